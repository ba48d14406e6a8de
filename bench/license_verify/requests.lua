-- wrk script: POSTs prebuilt JSON bodies (one per line of BENCH_BODIES) to BENCH_PATH with the
-- system API key. Each thread builds 20,000 requests from random lines once, then cycles.
local bodies_file = os.getenv("BENCH_BODIES")
local api_key = os.getenv("BENCH_API_KEY")
local path = os.getenv("BENCH_PATH")
local requests = {}
local counter = 0
local thread_number = 0

function setup(thread)
  thread_number = thread_number + 1
  thread:set("seed", thread_number * 7919)
end

function init(args)
  local lines = {}
  for line in io.lines(bodies_file) do
    lines[#lines + 1] = line
  end
  math.randomseed((seed or 1) + os.time())
  local headers = { ["Content-Type"] = "application/json", ["X-API-Key"] = api_key }
  for i = 1, 20000 do
    requests[i] = wrk.format("POST", path, headers, lines[math.random(#lines)])
  end
end

function request()
  counter = counter % #requests + 1
  return requests[counter]
end
