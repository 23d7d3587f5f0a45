-- wrk script: GET the entitlement of a random customer among bench-1..bench-<N>. Argument: N
function init(args)
  customers = tonumber(args[1])
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  return wrk.format("GET", "/api/v1/customers/bench-" .. math.random(1, customers) .. "/entitlement")
end
