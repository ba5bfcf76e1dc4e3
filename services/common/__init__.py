"""What every p13n service shares: config, logging, storage, the server runner, errors."""
