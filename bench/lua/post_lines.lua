-- POST one prepared request per call: BENCH_LINES is a file of "path\tbody\theader: v|header: v"
-- lines; thread t of n takes lines t, t+n, t+2n, ... so no two requests share a line.
dofile(os.getenv("BENCH_LUA_DIR") .. "/count.lua")

function init(args)
  lines = {}
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("BENCH_LINES")) do
    if i % nthreads == tid then table.insert(lines, line) end
    i = i + 1
  end
  pos = 0
end

function request()
  pos = pos + 1
  if pos > #lines then pos = 1 end  -- wrapped: the run was longer than the prepared lines
  local path, body, hdrs = string.match(lines[pos], "^([^\t]*)\t([^\t]*)\t(.*)$")
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end  -- those given with -H
  for name, value in string.gmatch(hdrs, "([^|:]+): ([^|]*)") do headers[name] = value end
  return wrk.format("POST", path, headers, body)
end
