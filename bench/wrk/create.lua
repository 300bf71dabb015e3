-- POST the JSON body BENCH_BODY to the URL given to wrk, with BENCH_AUTH.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
for name, value in pairs(common.headers()) do
   wrk.headers[name] = value
end

setup = common.setup
done = common.done
