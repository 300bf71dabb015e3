-- Send the bytes of the file BENCH_BODY_FILE (read once) with BENCH_METHOD (POST or PUT), the
-- Content-Type BENCH_CONTENT_TYPE and BENCH_AUTH, to the URL given to wrk, again and again.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local file = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.body = file:read("*a")
file:close()
wrk.method = os.getenv("BENCH_METHOD") or "POST"
for name, value in pairs(common.headers()) do
   wrk.headers[name] = value
end

setup = common.setup
done = common.done
