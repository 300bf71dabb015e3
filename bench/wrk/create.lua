-- POST the JSON body BENCH_BODY to the URL given to wrk, with BENCH_AUTH; or, with BENCH_USERS,
-- as a user picked at random for each request, the body's owner (common.OWNER) that user.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local template = os.getenv("BENCH_BODY")
local users = common.users()
if users then
   local at, to = template:find(common.OWNER, 1, true)
   for _, user in ipairs(users) do
      user.body = template:sub(1, at - 1) .. user.id .. template:sub(to + 1)
   end
   init = common.init
   function request()
      local user = users[math.random(#users)]
      return wrk.format("POST", nil, user.headers, user.body)
   end
else
   wrk.method = "POST"
   wrk.body = template
   for name, value in pairs(common.headers()) do
      wrk.headers[name] = value
   end
end

setup = common.setup
done = common.done
