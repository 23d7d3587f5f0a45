-- wrk script: POST signed Pay notifications, each body once. Arguments: <file of "hmac<TAB>body" lines> <threads>
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  local nthreads = tonumber(args[2])
  sigs, bodies, n, exhausted = {}, {}, 0, false
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then
      local tab = line:find("\t", 1, true)
      sigs[#sigs + 1] = line:sub(1, tab - 1)
      bodies[#bodies + 1] = line:sub(tab + 1)
    end
    i = i + 1
  end
end

function request()
  n = n + 1
  if n > #bodies then
    -- Never repeat a body (a repeat is a cheaper duplicate); the harness fails the round instead.
    exhausted = true
    n = #bodies
  end
  return wrk.format("POST", "/webhooks/cloudpayments/pay", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Content-HMAC"] = sigs[n],
  }, bodies[n])
end

function response(status, headers, body)
  if exhausted then
    print("bodies exhausted")
    wrk.thread:stop()
  end
end
