-- wrk script for bench/webhook.py: signed plaintext WeChat text messages.
--
-- Usage: wrk -t T -c C -d D -s bench/wrk_wechat.lua URL -- TOKEN PREFIX RATE THREADS USERS
--   TOKEN    the official account's WECHAT_TOKEN (signs every request)
--   PREFIX   digits that start every MsgId of this run (unique per run)
--   RATE     total requests per second to pace at; 0 sends as fast as the server answers
--   THREADS  the value given to -t (each thread paces RATE / THREADS)
--   USERS    how many distinct FromUserName openids to spread the load over
--
-- Each request is signed like WeChat does it (sha1 of the sorted token,
-- timestamp and nonce), carries the current timestamp, a random openid
-- ("obench" and 22 digits, 1..USERS), and a nonce and MsgId unique across
-- threads and runs (PREFIX, thread, counter), so the server's deduplication
-- never turns a request into a cache hit or a replay. Answers that are not 200
-- or not reply XML are counted. done() prints one machine-readable line
-- starting with "WRK ".

local bit = require("bit")
local ffi = require("ffi")

local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local rol, rshift, tobit, tohex = bit.rol, bit.rshift, bit.tobit, bit.tohex

-- Stateless browse commands: each answers the same whatever was said before.
local COMMANDS = { "菜单", "分类", "搜索 茶", "help", "搜索 龙井" }

local XML = "<xml><ToUserName><![CDATA[gh_chatshopbench]]></ToUserName>"
    .. "<FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%s</CreateTime>"
    .. "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content>"
    .. "<MsgId>%s</MsgId></xml>"

-- SHA-1 (FIPS 180-4) over LuaJIT's 32-bit bit operations; LuaJIT ships no digest.
local function be32(x)
  return string.char(band(rshift(x, 24), 255), band(rshift(x, 16), 255),
    band(rshift(x, 8), 255), band(x, 255))
end

local function sha1_hex(msg)
  local bits = #msg * 8
  msg = msg .. "\128" .. string.rep("\0", (55 - #msg) % 64)
      .. be32(math.floor(bits / 4294967296)) .. be32(bits % 4294967296)
  local h0, h1, h2 = tobit(0x67452301), tobit(0xEFCDAB89), tobit(0x98BADCFE)
  local h3, h4 = tobit(0x10325476), tobit(0xC3D2E1F0)
  local w = {}
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do
      local b1, b2, b3, b4 = string.byte(msg, chunk + i * 4, chunk + i * 4 + 3)
      w[i] = bor(bit.lshift(b1, 24), bit.lshift(b2, 16), bit.lshift(b3, 8), b4)
    end
    for i = 16, 79 do
      w[i] = rol(bxor(w[i - 3], w[i - 8], w[i - 14], w[i - 16]), 1)
    end
    local a, b, c, d, e = h0, h1, h2, h3, h4
    for i = 0, 79 do
      local f, k
      if i < 20 then
        f, k = bor(band(b, c), band(bnot(b), d)), 0x5A827999
      elseif i < 40 then
        f, k = bxor(b, c, d), 0x6ED9EBA1
      elseif i < 60 then
        f, k = bor(band(b, c), band(b, d), band(c, d)), 0x8F1BBCDC
      else
        f, k = bxor(b, c, d), 0xCA62C1D6
      end
      local t = tobit(rol(a, 5) + f + e + k + w[i])
      a, b, c, d, e = t, a, rol(b, 30), c, d
    end
    h0, h1, h2 = tobit(h0 + a), tobit(h1 + b), tobit(h2 + c)
    h3, h4 = tobit(h3 + d), tobit(h4 + e)
  end
  return tohex(h0) .. tohex(h1) .. tohex(h2) .. tohex(h3) .. tohex(h4)
end

ffi.cdef [[
struct wrk_wechat_timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clk_id, struct wrk_wechat_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local clock_buf = ffi.new("struct wrk_wechat_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock_buf)
  return tonumber(clock_buf.tv_sec) * 1000 + tonumber(clock_buf.tv_nsec) / 1e6
end

-- Setup/done environment: remembers the threads so done() can read their counters.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

-- Per-thread running environment.
local token, prefix, users, nthreads, interval_ms, next_slot
local headers = { ["Content-Type"] = "text/xml" }
counter, non200, bad_body, unmatched = 0, 0, 0, 0
-- Paced runs: milliseconds from each request's scheduled send time to its response.
scheduled_ms = {}
local due = {} -- slots handed out by delay(), not yet taken by request(), oldest first
local in_flight = {} -- openid -> slot of the request now waiting for its answer

function init(args)
  assert(sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d", "sha1 self-test")
  assert(#args == 5, "arguments: TOKEN PREFIX RATE THREADS USERS")
  token, prefix, users = args[1], args[2], tonumber(args[5])
  local rate = tonumber(args[3])
  nthreads = tonumber(args[4])
  math.randomseed(tid * 7919 + os.time())
  if rate > 0 then
    interval_ms = 1000 * nthreads / rate
  else
    -- wrk only calls delay() when the global exists after init().
    delay = nil
  end
end

-- Constant-rate pacing (what wrk2's -R does): a thread's requests are due every
-- interval_ms, each slot going to whichever of the thread's connections asks
-- next. A request sent late (no connection was free at its slot) goes at once,
-- and its latency counts from when it was due, so a slow server is not excused
-- by the client waiting for it (coordinated omission). Against gunicorn's sync
-- workers, pace with a single thread: bench/webhook.py says why.
function delay()
  local now = now_ms()
  if next_slot == nil then
    -- Stagger the threads so their slots interleave instead of coinciding.
    next_slot = now + interval_ms * (tid - 1) / nthreads
  end
  local slot = next_slot
  next_slot = next_slot + interval_ms
  due[#due + 1] = slot
  if slot < now then
    return 0
  end
  -- wrk truncates to whole milliseconds: round up so that no request leaves early.
  return math.ceil(slot - now)
end

function request()
  counter = counter + 1
  local timestamp = tostring(os.time())
  -- Serves as MsgId and nonce: both must be unique (ChatShop deduplicates by MsgId
  -- and refuses a timestamp + nonce it has seen with another body).
  local serial = string.format("%s%02d%09d", prefix, tid, counter)
  local parts = { token, timestamp, serial }
  table.sort(parts)
  local signature = sha1_hex(table.concat(parts))
  local openid
  repeat
    openid = string.format("obench%022d", math.random(users))
  until in_flight[openid] == nil
  if #due > 0 then
    -- Timers fire in slot order, so the oldest slot is the one this request was sent for.
    in_flight[openid] = table.remove(due, 1)
  end
  local content = COMMANDS[(counter - 1) % #COMMANDS + 1]
  local path = wrk.path .. "?signature=" .. signature .. "&timestamp=" .. timestamp
      .. "&nonce=" .. serial
  return wrk.format("POST", path, headers, string.format(XML, openid, timestamp, content, serial))
end

function response(status, _, body)
  local to_user = string.match(body or "", "<ToUserName>(.-)</ToUserName>")
  if interval_ms ~= nil then
    -- wrk does not say which request an answer is for: the reply names its addressee.
    local openid = to_user and (string.match(to_user, "^<!%[CDATA%[(.*)%]%]>$") or to_user)
    local slot = openid and in_flight[openid]
    if slot then
      scheduled_ms[#scheduled_ms + 1] = now_ms() - slot
      in_flight[openid] = nil
    else
      unmatched = unmatched + 1
    end
  end
  if status ~= 200 then
    non200 = non200 + 1
  elseif not (to_user and string.find(body, "<MsgType>", 1, true)) then
    bad_body = bad_body + 1
  end
end

local function percentile(sorted, p)
  if #sorted == 0 then
    return 0
  end
  return sorted[math.max(1, math.ceil(#sorted * p / 100))]
end

function done(summary, latency, _)
  local total_non200, total_bad, total_unmatched, scheduled = 0, 0, 0, {}
  for _, thread in ipairs(threads) do
    total_non200 = total_non200 + thread:get("non200")
    total_bad = total_bad + thread:get("bad_body")
    total_unmatched = total_unmatched + thread:get("unmatched")
    for _, ms in ipairs(thread:get("scheduled_ms")) do
      scheduled[#scheduled + 1] = ms
    end
  end
  table.sort(scheduled)
  local e = summary.errors
  -- *_us: wrk's own latency (send to response); sched_*_ms: from the scheduled send time.
  io.write(string.format(
    "WRK requests=%d duration_us=%d mean_us=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d "
    .. "sched_p50_ms=%.3f sched_p99_ms=%.3f sched_max_ms=%.3f "
    .. "connect_errors=%d read_errors=%d write_errors=%d status_errors=%d timeouts=%d "
    .. "non200=%d bad_body=%d unmatched=%d\n",
    summary.requests, summary.duration, latency.mean, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max,
    percentile(scheduled, 50), percentile(scheduled, 99), percentile(scheduled, 100),
    e.connect, e.read, e.write, e.status, e.timeout, total_non200, total_bad, total_unmatched))
end
