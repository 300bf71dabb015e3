-- GET the URL given to wrk (path and query string as built by bench/run.py), with BENCH_AUTH,
-- or as a user of BENCH_USERS picked at random for each request.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local users = common.users()
if users then
   init = common.init
   function request()
      return wrk.format("GET", nil, users[math.random(#users)].headers)
   end
else
   for name, value in pairs(common.headers()) do
      wrk.headers[name] = value
   end
end

setup = common.setup
done = common.done
