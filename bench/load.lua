-- wrk script for the p13n bench: POST /public/shop_db/{page_views|product_views} with a
-- random visitor from a pool of td_client_ids, the public token and an allowed Origin.
-- Bodies follow bench/workload.py (page_event, product_event). Settings come from the
-- environment; done() writes the summary as JSON to BENCH_OUT.

local token = os.getenv("BENCH_TOKEN") or "none"
local origin = os.getenv("BENCH_ORIGIN") or "https://www.shop.example"
local pool = tonumber(os.getenv("BENCH_POOL") or "1000")
local list_len = tonumber(os.getenv("BENCH_LIST_LEN") or "5")
local page_share = tonumber(os.getenv("BENCH_PAGE_SHARE") or "0.6")
local out = os.getenv("BENCH_OUT")

local products = {}
for i = 0, 199 do products[#products + 1] = string.format("product-%03d", i) end
local categories = {"shoes", "bags", "coats", "shirts", "hats", "socks", "belts", "watches"}

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + (id or 0))
end

local function client_id(n)
  return string.format("%08x-5a1e-4c2b-9f3e-%012x", n, (n * 7919) % 281474976710656)
end

local function pick(list)
  return list[math.random(#list)]
end

local headers = {
  ["Content-Type"] = "application/json",
  ["WP13n-Token"] = token,
  ["Origin"] = origin,
}

function request()
  local cid = client_id(math.random(0, pool - 1))
  if math.random() < page_share then
    local category = pick(categories)
    local path
    if math.random() < 0.3 then path = "/category/" .. category else path = "/p/" .. pick(products) end
    local body = '{"td_client_id":"' .. cid .. '","td_url":"https://www.shop.example' .. path
      .. '","td_path":"' .. path .. '","td_title":"Shop - ' .. category
      .. '","td_referrer":"https://www.search.example/"}'
    return wrk.format("POST", "/public/shop_db/page_views", headers, body)
  end
  local product = pick(products)
  local items = {}
  for i = 1, list_len do items[i] = '"' .. pick(products) .. '"' end
  local body = '{"td_client_id":"' .. cid .. '","td_url":"https://www.shop.example/p/' .. product
    .. '","td_path":"/p/' .. product .. '","product_name":"' .. product
    .. '","product_category":"' .. pick(categories) .. '","price":' .. (math.random(5, 499) * 100)
    .. ',"product_list":[' .. table.concat(items, ",") .. '],"category_list":["'
    .. pick(categories) .. '","' .. pick(categories) .. '","' .. pick(categories) .. '"]}'
  return wrk.format("POST", "/public/shop_db/product_views", headers, body)
end

function done(summary, latency, requests)
  if not out then return end
  local f = io.open(out, "w")
  f:write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
    .. '"latency_us":{"p50":%d,"p90":%d,"p95":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
  f:close()
end
