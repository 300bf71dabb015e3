-- GET the URL given to wrk (path and query string as built by bench/run.py), with BENCH_AUTH.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

for name, value in pairs(common.headers()) do
   wrk.headers[name] = value
end

setup = common.setup
done = common.done
