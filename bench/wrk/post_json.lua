-- POST the same JSON body on every request: body and bearer token come from the environment.
local file = assert(io.open(os.getenv("WRK_BODY_FILE"), "r"))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN")
