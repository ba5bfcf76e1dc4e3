"""The design's rules, checked against the design's own wording.

Expected messages are literal copies of docs/design.md#messages, never the module's
constants, so that a change of wording fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.auth.validation import (
    PERMISSION_DENIED_MESSAGE,
    Role,
    ServiceType,
    check_service_type_allowed,
    check_service_type_unchanged,
    check_token_limits,
    require_can_grant,
    require_recent_authentication,
    require_role,
    validate_name,
    validate_service_allowed_origins,
    validate_token_allowed_ips,
)
from services.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    P13nError,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)

PUBLIC, PRIVATE = ServiceType.PUBLIC, ServiceType.PRIVATE
M2_1 = "eng-lc-realtime-personalization-m2-1"


def _refusal(cls: type[P13nError], call: object, *args: object, **kwargs: object) -> P13nError:
    assert callable(call)
    with pytest.raises(cls) as caught:
        call(*args, **kwargs)
    return caught.value


# --- names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "others", "saved"),
    [
        pytest.param("Homepage", [], "Homepage", id="simple"),
        pytest.param("a" * 100, [], "a" * 100, id="100-chars"),
        pytest.param("é" * 100, [], "é" * 100, id="100-non-ascii-chars"),
        pytest.param("  " + "a" * 100 + " ", [], "a" * 100, id="100-chars-plus-blanks"),
        pytest.param(" Home ", [], "Home", id="stripped"),
        pytest.param("Homepage 2", ["Homepage"], "Homepage 2", id="distinct"),
        pytest.param("Homepage", ["Homepage 2", "Cart"], "Homepage", id="prefix-of-other"),
    ],
)
def test_valid_names(name: str, others: list[str], saved: str) -> None:
    assert validate_name(name, others) == saved


@pytest.mark.parametrize(
    ("name", "others", "message", "reason"),
    [
        pytest.param("", [], "Name can't be blank", "NAME_BLANK", id="empty"),
        pytest.param("   ", [], "Name can't be blank", "NAME_BLANK", id="spaces"),
        pytest.param("\t\n", [], "Name can't be blank", "NAME_BLANK", id="whitespace"),
        pytest.param(
            "a" * 101, [], "Name is too long (maximum is 100 characters)", "NAME_TOO_LONG", id="101"
        ),
        pytest.param(
            "é" * 101,
            [],
            "Name is too long (maximum is 100 characters)",
            "NAME_TOO_LONG",
            id="101-non-ascii",
        ),
        pytest.param(
            "Cart", ["Home", "Cart"], "Name has already been taken", "NAME_TAKEN", id="dup"
        ),
        pytest.param("cart", ["Cart"], "Name has already been taken", "NAME_TAKEN", id="dup-case"),
        pytest.param(" Cart ", ["Cart"], "Name has already been taken", "NAME_TAKEN", id="dup-pad"),
        pytest.param(
            "\uff23art", ["Cart"], "Name has already been taken", "NAME_TAKEN", id="dup-fullwidth"
        ),
        pytest.param(
            "Line\nbreak",
            [],
            "Name must not contain control characters such as line breaks",
            "NAME_CONTROL_CHARACTERS",
            id="control",
        ),
    ],
)
def test_invalid_names(name: str, others: list[str], message: str, reason: str) -> None:
    error = _refusal(InvalidArgument, validate_name, name, others)
    assert (error.field, error.message, error.reason) == ("name", message, reason)


def test_blank_is_reported_before_taken() -> None:
    error = _refusal(InvalidArgument, validate_name, "", [""])
    assert error.message == "Name can't be blank"


# --- allowed IPs and origins by service type ------------------------------------------


def test_allowed_ips_on_a_public_token_are_refused() -> None:
    error = _refusal(InvalidArgument, validate_token_allowed_ips, PUBLIC, ["10.0.0.0/8"])
    assert error.field == "allowed_ips"
    assert error.message == "Allowed ips must not be set when the parent service is public"


@pytest.mark.parametrize(
    ("service_type", "entries", "saved"),
    [
        pytest.param(PUBLIC, [], [], id="public-none"),
        pytest.param(PRIVATE, [], [], id="private-none-means-anywhere"),
        pytest.param(PRIVATE, ["10.0.0.1", "2001:db8::/32"], ["10.0.0.1/32", "2001:db8::/32"]),
    ],
)
def test_allowed_ips_by_service_type(
    service_type: ServiceType, entries: list[str], saved: list[str]
) -> None:
    assert validate_token_allowed_ips(service_type, entries) == saved


def test_private_token_cidrs_are_validated() -> None:
    error = _refusal(InvalidArgument, validate_token_allowed_ips, PRIVATE, ["10.0.0.1/8"])
    assert error.field == "allowed_ips[0]"
    assert "has host bits set: use 10.0.0.0/8" in error.message


def test_allowed_origins_on_a_private_service_are_refused() -> None:
    error = _refusal(
        InvalidArgument, validate_service_allowed_origins, PRIVATE, ["https://shop.example"]
    )
    assert error.field == "allowed_origins"
    assert error.message == "Allowed origins must not be set when the service is private"


def test_public_service_origins_are_validated_and_normalised() -> None:
    saved = validate_service_allowed_origins(PUBLIC, ["HTTPS://Shop.example:443"])
    assert saved == ["https://shop.example"]
    assert validate_service_allowed_origins(PRIVATE, []) == []
    error = _refusal(
        InvalidArgument, validate_service_allowed_origins, PUBLIC, ["https://shop.example/"]
    )
    assert error.field == "allowed_origins[0]"


# --- service type -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        pytest.param(PUBLIC, None, id="public-not-in-mask"),
        pytest.param(PUBLIC, PUBLIC, id="public-same"),
        pytest.param(PRIVATE, PRIVATE, id="private-same"),
    ],
)
def test_type_may_be_restated(current: ServiceType, requested: ServiceType | None) -> None:
    check_service_type_unchanged(current, requested)


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        pytest.param(PUBLIC, PRIVATE, id="public-to-private"),
        pytest.param(PRIVATE, PUBLIC, id="private-to-public"),
    ],
)
def test_type_cannot_be_changed(current: ServiceType, requested: ServiceType) -> None:
    error = _refusal(InvalidArgument, check_service_type_unchanged, current, requested)
    assert (error.field, error.message) == ("type", "Service type cannot be changed")


def test_a_public_service_needs_the_m2_1_flag() -> None:
    error = _refusal(FailedPrecondition, check_service_type_allowed, PUBLIC, set())
    assert M2_1 in error.message
    assert f"p13n flags set --account <account id> {M2_1}=on" in error.message
    assert error.metadata == {"flag": M2_1}
    other_flags = {"eng-lc-realtime-personalization-m2-2"}
    _refusal(FailedPrecondition, check_service_type_allowed, PUBLIC, other_flags)


@pytest.mark.parametrize(
    ("service_type", "flags"),
    [
        pytest.param(PUBLIC, {M2_1}, id="public-with-flag"),
        pytest.param(PRIVATE, set(), id="private-needs-no-flag"),
    ],
)
def test_service_types_allowed(service_type: ServiceType, flags: set[str]) -> None:
    check_service_type_allowed(service_type, flags)


def test_a_missing_type_is_refused() -> None:
    error = _refusal(InvalidArgument, check_service_type_allowed, None, {M2_1})
    assert (error.field, error.message) == (
        "type",
        "Type can't be blank (choose PUBLIC or PRIVATE)",
    )


# --- token limits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("in_service", "in_segment"),
    [
        pytest.param(0, 0, id="first"),
        pytest.param(49, 49, id="50th-of-service"),
        pytest.param(0, 199, id="200th-of-segment"),
        pytest.param(49, 199, id="both-last"),
    ],
)
def test_tokens_within_limits(in_service: int, in_segment: int) -> None:
    check_token_limits(tokens_in_service=in_service, tokens_in_parent_segment=in_segment)


SERVICE_FULL = (
    "Token limit reached: a service can have at most 50 tokens. Delete a token of this "
    "service that is no longer used, then try again."
)
SEGMENT_FULL = (
    "Token limit reached: a parent segment can have at most 200 tokens across all its "
    "services. Delete a token of any service of this parent segment that is no longer used, "
    "then try again."
)


@pytest.mark.parametrize(
    ("in_service", "in_segment", "message", "reason", "limit"),
    [
        pytest.param(50, 50, SERVICE_FULL, "TOKEN_LIMIT_PER_SERVICE", "50", id="51st-of-service"),
        pytest.param(
            10, 200, SEGMENT_FULL, "TOKEN_LIMIT_PER_PARENT_SEGMENT", "200", id="201st-of-segment"
        ),
        pytest.param(
            50, 200, SERVICE_FULL, "TOKEN_LIMIT_PER_SERVICE", "50", id="both-service-named"
        ),
    ],
)
def test_token_limits(
    in_service: int, in_segment: int, message: str, reason: str, limit: str
) -> None:
    error = _refusal(
        ResourceExhausted,
        check_token_limits,
        tokens_in_service=in_service,
        tokens_in_parent_segment=in_segment,
    )
    assert (error.message, error.reason, error.metadata) == (message, reason, {"limit": limit})


# --- roles --------------------------------------------------------------------------------------


def test_roles_are_ordered() -> None:
    assert Role.OWNER > Role.ADMIN > Role.EDITOR > Role.VIEWER
    assert sorted([Role.ADMIN, Role.OWNER, Role.VIEWER, Role.EDITOR]) == [
        Role.VIEWER,
        Role.EDITOR,
        Role.ADMIN,
        Role.OWNER,
    ]
    three: object = 3  # an IntEnum would equal it; a role never does
    assert three != Role.ADMIN
    with pytest.raises(TypeError):
        _ = three > Role.ADMIN


def test_permission_message_is_the_designs() -> None:
    assert PERMISSION_DENIED_MESSAGE == "You do not have permission to perform this action."


@pytest.mark.parametrize("minimum", list(Role), ids=lambda r: f"needs-{r.name}")
@pytest.mark.parametrize("role", [*Role, None], ids=lambda r: getattr(r, "name", "none"))
def test_require_role(role: Role | None, minimum: Role) -> None:
    order = [Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER]
    if role is not None and order.index(role) >= order.index(minimum):
        require_role(role, minimum)
        return
    error = _refusal(PermissionDenied, require_role, role, minimum)
    assert error.message == "You do not have permission to perform this action."


@pytest.mark.parametrize(
    ("actor", "granted", "allowed"),
    [
        pytest.param(Role.OWNER, Role.OWNER, True, id="owner-makes-owner"),
        pytest.param(Role.ADMIN, Role.ADMIN, True, id="admin-makes-admin"),
        pytest.param(Role.ADMIN, Role.VIEWER, True, id="admin-makes-viewer"),
        pytest.param(Role.ADMIN, Role.OWNER, False, id="admin-cannot-make-owner"),
        pytest.param(Role.EDITOR, Role.VIEWER, False, id="editor-manages-no-users"),
        pytest.param(None, Role.VIEWER, False, id="no-role"),
    ],
)
def test_require_can_grant(actor: Role | None, granted: Role, allowed: bool) -> None:
    if allowed:
        require_can_grant(actor, granted)
    else:
        error = _refusal(PermissionDenied, require_can_grant, actor, granted)
        assert error.message == "You do not have permission to perform this action."


# --- re-authentication ---------------------------------------------------------------------------

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "age",
    [
        pytest.param(timedelta(0), id="just-now"),
        pytest.param(timedelta(minutes=9, seconds=59), id="9m59s"),
        pytest.param(timedelta(minutes=10), id="exactly-10m"),
    ],
)
def test_recent_authentication_is_accepted(age: timedelta) -> None:
    require_recent_authentication(NOW - age, NOW)


@pytest.mark.parametrize(
    "authenticated_at",
    [
        pytest.param(NOW - timedelta(minutes=10, microseconds=1), id="10m-and-a-bit"),
        pytest.param(NOW - timedelta(days=1), id="yesterday"),
        pytest.param(NOW + timedelta(seconds=1), id="future-clock-stepped-back"),
        pytest.param(None, id="never-with-password"),
    ],
)
def test_stale_authentication_is_refused(authenticated_at: datetime | None) -> None:
    error = _refusal(Unauthenticated, require_recent_authentication, authenticated_at, NOW)
    assert error.message == "Re-authentication required"
    assert error.reason == "REAUTHENTICATION_REQUIRED"


def test_naive_times_are_a_programming_error() -> None:
    naive = datetime(2025, 1, 1, 12, 0)
    with pytest.raises(ValueError, match="must be timezone-aware"):
        require_recent_authentication(naive, NOW)
    with pytest.raises(ValueError, match="must be timezone-aware"):
        require_recent_authentication(NOW, naive)
