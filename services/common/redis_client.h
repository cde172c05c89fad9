// A Redis client on the service's libuv loop, through hiredis's async API (event hooks in
// redis_uv_events.h).
// Connects on first use and again after the connection is lost; the host name is resolved with
// uv_getaddrinfo (never blocking the loop).
//
//     services::RedisClient redis(loop, {"redis", 6379});
//     redis.command({"INCRBY", "hashes", "10"}, [](services::RedisReply r) {
//       if (!r.ok()) ... r.error ...      // "redis:6379: Connection refused"
//       else ... r.integer ...
//     });
//
// Each callback runs exactly once, never from inside command(), and never after close() or the
// destructor. While Redis is unreachable, commands fail (after the connect attempt) rather than
// pile up: callers decide whether to retry.
#pragma once

#include "base/endpoint.h"
#include "base/uv_handle.h"
#include "base/uv_request.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <uv.h>
#include <vector>

struct redisAsyncContext;

namespace services {

struct RedisReply {
  enum class Type { Nil, Integer, String, Status, Array, Error };
  std::string error; // empty on success; a Redis error reply ("ERR ...") or a connection error
  Type type = Type::Nil;
  long long integer = 0;
  std::string str;                  // String, Status
  std::vector<RedisReply> elements; // Array
  bool ok() const { return error.empty(); }
};
using RedisCallback = std::function<void(RedisReply)>;

struct RedisOptions {
  std::uint64_t connect_timeout_ms = 5000;
  std::size_t max_waiting = 10000; // commands queued while resolving the name; more fail at once
};

class RedisClient {
public:
  RedisClient(uv_loop_t* loop, hamba::Endpoint server, RedisOptions options = {});
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  void command(std::vector<std::string> args, RedisCallback callback);
  bool connected() const { return state_ == State::Connected; }
  // Drops the connection; callbacks of commands in flight are not called.
  void close();
  const hamba::Endpoint& server() const { return server_; }

private:
  enum class State { Idle, Resolving, Connecting, Connected };
  struct Waiting {
    std::vector<std::string> args;
    RedisCallback callback;
  };

  void connect_start();
  void on_resolved(int status, const addrinfo* result);
  void resolved(int status, const std::string& ip);
  void open_context(const std::string& ip);
  void send(std::vector<std::string> args, RedisCallback callback);
  void fail_later(RedisCallback callback, std::string error);
  void fail_waiting(const std::string& error);
  void on_connect(int status);
  void on_disconnect(int status);
  void on_connect_timeout();
  void run_deferred();

  friend struct RedisCallbacks;

  uv_loop_t* loop_;
  hamba::Endpoint server_;
  RedisOptions options_;
  uvx::Requests<uv_getaddrinfo_t> resolve_;
  std::uint64_t closes_ = 0; // close() calls, so that a loop over callbacks sees one
  State state_ = State::Idle;
  redisAsyncContext* context_ = nullptr;
  bool closing_ = false; // inside close(): hiredis callbacks must not reach the caller
  std::string last_error_;
  std::vector<Waiting> waiting_;                                // while resolving
  std::vector<std::pair<RedisCallback, std::string>> deferred_; // failures to report next tick
  uvx::Timer connect_timer_;
  uvx::Timer deferred_timer_;
};

} // namespace services
