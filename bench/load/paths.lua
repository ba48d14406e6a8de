-- wrk script: GETs the paths of BENCH_PATHS (one a line) in turn, each thread from its own
-- offset, with the bearer token of BENCH_TOKEN.
local paths_file = os.getenv("BENCH_PATHS")
local token = os.getenv("BENCH_TOKEN")
local requests = {}
local counter = 0
local thread_number = 0

function setup(thread)
  thread_number = thread_number + 1
  thread:set("offset", thread_number * 3)
end

function init(args)
  local headers = { ["Authorization"] = "Bearer " .. token, ["Accept"] = "application/json" }
  for line in io.lines(paths_file) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("GET", line, headers)
    end
  end
  counter = offset or 0
end

function request()
  counter = counter % #requests + 1
  return requests[counter]
end
