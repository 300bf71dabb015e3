-- GET <BENCH_PATH><id>, the id picked at random from the file BENCH_IDS (one id a line). With
-- BENCH_USERS, each line is the id, a tab and its owner's line number in BENCH_USERS, and the
-- request goes with the owner's Authorization.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local prefix = os.getenv("BENCH_PATH")
local users = common.users()
local ids, owners = {}, {}
for line in io.lines(os.getenv("BENCH_IDS")) do
   local id, owner = line:match("^([^\t]+)\t?(%d*)$")
   if id then
      ids[#ids + 1] = id
      owners[#ids] = tonumber(owner)
   end
end
local headers = common.headers()

setup = common.setup
init = common.init
done = common.done

function request()
   local i = math.random(#ids)
   local owner = users and users[owners[i]]
   return wrk.format("GET", prefix .. ids[i], owner and owner.headers or headers)
end
