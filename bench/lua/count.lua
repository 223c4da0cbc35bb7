-- Shared by every scenario: counts 2xx and other answers per thread and reports them in done().
-- Scenario scripts define `request` (if any) and include this file's functions.
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = (ok or 0) + 1
  else
    errors = (errors or 0) + 1
    if not first_error then first_error = status .. " " .. string.sub(body or "", 1, 160) end
  end
end

function done(summary, latency, requests)
  local o, e, first = 0, 0, nil
  for _, t in ipairs(threads) do
    o = o + (t:get("ok") or 0)
    e = e + (t:get("errors") or 0)
    first = first or t:get("first_error")
  end
  io.write(string.format("BENCH ok=%d errors=%d\n", o, e))
  if first then io.write("BENCH first_error=" .. first .. "\n") end
end
