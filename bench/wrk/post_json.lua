-- POST the JSON body BENCH_BODY to the URL given to wrk (no token needed).
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"

setup = common.setup
done = common.done
