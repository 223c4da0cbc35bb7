-- GET the URL given to wrk, counting non-2xx answers. With BENCH_SESSIONS (the Cookie header texts
-- of several signed-in browsers, comma-separated), each request carries the next browser's cookies
-- of its thread: like several agents, each with their own session, instead of every request
-- updating one session row.
dofile(os.getenv("BENCH_LUA_DIR") .. "/count.lua")

local sessions = {}
for id in string.gmatch(os.getenv("BENCH_SESSIONS") or "", "[^,]+") do table.insert(sessions, id) end

if #sessions > 0 then
  function init(args)
    pos = tid
  end

  function request()
    pos = pos + 1
    wrk.headers["Cookie"] = sessions[(pos % #sessions) + 1]
    return wrk.format()
  end
end
