// RedisClient: hiredis async contexts attached to the libuv loop, reconnected on demand
// (see redis_client.h).
#include "common/redis_client.h"

#include "common/redis_uv_events.h"

#include <fmt/format.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

namespace services {

namespace {
// A command in flight: hiredis hands it back to on_reply exactly once (with no reply when the
// context goes). A context whose owner let it go has no data: its replies reach nobody.
struct PendingCommand {
  RedisCallback callback;
};

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
  case REDIS_REPLY_STRING:
    out.type = RedisReply::Type::String;
    out.str.assign(r->str, r->len);
    break;
  case REDIS_REPLY_STATUS:
    out.type = RedisReply::Type::Status;
    out.str.assign(r->str, r->len);
    break;
  case REDIS_REPLY_INTEGER:
    out.type = RedisReply::Type::Integer;
    out.integer = r->integer;
    break;
  case REDIS_REPLY_ARRAY:
    out.type = RedisReply::Type::Array;
    for (size_t i = 0; i < r->elements; ++i)
      out.elements.push_back(convert(r->element[i]));
    break;
  case REDIS_REPLY_ERROR:
    out.type = RedisReply::Type::Error;
    out.error.assign(r->str, r->len);
    break;
  default:
    out.type = RedisReply::Type::Nil;
  }
  return out;
}
} // namespace

// hiredis's C callbacks, translated into calls on the client.
struct RedisCallbacks {
  static RedisClient* client_of(const redisAsyncContext* ac) {
    return static_cast<RedisClient*>(ac->data);
  }
  static void on_connect(const redisAsyncContext* ac, int status) {
    if (auto* c = client_of(ac)) {
      if (status != REDIS_OK)
        c->last_error_ = ac->errstr;
      c->on_connect(status);
    }
  }
  static void on_disconnect(const redisAsyncContext* ac, int status) {
    if (auto* c = client_of(ac)) {
      if (status != REDIS_OK)
        c->last_error_ = ac->errstr;
      c->on_disconnect(status);
    }
  }
  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
    std::unique_ptr<PendingCommand> pending(static_cast<PendingCommand*>(privdata));
    RedisClient* c = client_of(ac);
    if (!c)
      return;
    RedisReply out;
    if (reply) {
      out = convert(static_cast<redisReply*>(reply));
    } else {
      std::string why =
          ac->err ? ac->errstr : (c->last_error_.empty() ? "connection lost" : c->last_error_);
      out.error = fmt::format("{}: {}", hamba::format_endpoint(c->server_), why);
    }
    pending->callback(std::move(out));
  }
};

RedisClient::RedisClient(uv_loop_t* loop, hamba::Endpoint server, RedisOptions options)
    : loop_(loop), server_(std::move(server)), options_(options) {
  connect_timer_.init(loop_, this);
  deferred_timer_.init(loop_, this);
}

RedisClient::~RedisClient() {
  close();
}

void RedisClient::close() {
  ++closes_;
  resolve_.cancel();
  waiting_.clear();
  deferred_.clear();
  connect_timer_.stop();
  if (context_) {
    redisAsyncContext* ac = std::exchange(context_, nullptr);
    ac->data = nullptr; // its callbacks, even deferred ones, no longer reach this object
    redisAsyncFree(ac);
  }
  state_ = State::Idle;
}

void RedisClient::command(std::vector<std::string> args, RedisCallback callback) {
  switch (state_) {
  case State::Idle:
    waiting_.push_back({std::move(args), std::move(callback)});
    connect_start();
    break;
  case State::Resolving:
    if (waiting_.size() >= options_.max_waiting)
      fail_later(std::move(callback), "too many commands waiting for the connection");
    else
      waiting_.push_back({std::move(args), std::move(callback)});
    break;
  case State::Connecting:
  case State::Connected:
    send(std::move(args), std::move(callback));
    break;
  }
}

void RedisClient::connect_start() {
  state_ = State::Resolving;
  last_error_.clear();
  connect_timer_.start<&RedisClient::on_connect_timeout>(options_.connect_timeout_ms);
  sockaddr_storage numeric{};
  if (hamba::ip_literal_sockaddr(server_.host, server_.port, numeric)) {
    open_context(server_.host.empty() ? "127.0.0.1" : server_.host);
    return;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = resolve_.start<&RedisClient::on_resolved>(this, [&](uv_getaddrinfo_t* req, auto done) {
    return uv_getaddrinfo(loop_, req, done, server_.host.c_str(), nullptr, &hints);
  });
  if (rc < 0)
    resolved(rc, "");
}

void RedisClient::on_resolved(int status, const addrinfo* result) {
  // hiredis connects by address text: the first address the name resolved to.
  std::string ip;
  if (status == 0 && result) {
    char text[64] = "";
    if (result->ai_family == AF_INET6)
      uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(result->ai_addr), text, sizeof text);
    else
      uv_ip4_name(reinterpret_cast<const sockaddr_in*>(result->ai_addr), text, sizeof text);
    ip = text;
  }
  if (state_ == State::Resolving)
    resolved(status, ip);
}

void RedisClient::resolved(int status, const std::string& ip) {
  if (status < 0 || ip.empty()) {
    connect_timer_.stop();
    state_ = State::Idle;
    fail_waiting(fmt::format("{}: cannot resolve {}: {}", hamba::format_endpoint(server_),
                             server_.host, uvx::error_text(status < 0 ? status : UV_EAI_NONAME)));
    return;
  }
  open_context(ip);
}

void RedisClient::open_context(const std::string& ip) {
  redisAsyncContext* ac = redisAsyncConnect(ip.c_str(), server_.port);
  if (!ac || ac->err) {
    std::string why = ac ? ac->errstr : "out of memory";
    if (ac)
      redisAsyncFree(ac);
    connect_timer_.stop();
    state_ = State::Idle;
    fail_waiting(fmt::format("{}: {}", hamba::format_endpoint(server_), why));
    return;
  }
  ac->data = this;
  attach_to_loop(ac, loop_);
  redisAsyncSetConnectCallback(ac, &RedisCallbacks::on_connect);
  redisAsyncSetDisconnectCallback(ac, &RedisCallbacks::on_disconnect);
  context_ = ac;
  state_ = State::Connecting;
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& w : waiting) // hiredis buffers them until the connection is up
    send(std::move(w.args), std::move(w.callback));
}

void RedisClient::send(std::vector<std::string> args, RedisCallback callback) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* pending = new PendingCommand{std::move(callback)};
  int rc = redisAsyncCommandArgv(context_, &RedisCallbacks::on_reply, pending,
                                 static_cast<int>(argv.size()), argv.data(), lengths.data());
  if (rc != REDIS_OK) {
    std::unique_ptr<PendingCommand> failed(pending);
    fail_later(std::move(failed->callback),
               fmt::format("{}: {}", hamba::format_endpoint(server_),
                           context_->err ? context_->errstr : "connection is closing"));
  }
}

void RedisClient::fail_later(RedisCallback callback, std::string error) {
  deferred_.emplace_back(std::move(callback), std::move(error));
  deferred_timer_.start<&RedisClient::run_deferred>(0);
}

void RedisClient::run_deferred() {
  auto failures = std::move(deferred_);
  deferred_.clear();
  const std::uint64_t closes = closes_;
  for (auto& [callback, error] : failures) {
    if (closes_ != closes)
      return; // a callback closed the client
    RedisReply reply;
    reply.error = std::move(error);
    callback(std::move(reply));
  }
}

void RedisClient::fail_waiting(const std::string& error) {
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& w : waiting)
    fail_later(std::move(w.callback), error);
}

void RedisClient::on_connect(int status) {
  connect_timer_.stop();
  if (status == REDIS_OK) {
    state_ = State::Connected;
    last_error_.clear();
    return;
  }
  // hiredis frees the context after this callback and fails its commands (NULL replies).
  context_ = nullptr;
  state_ = State::Idle;
}

void RedisClient::on_disconnect(int) {
  // hiredis frees the context after this callback; the next command reconnects.
  context_ = nullptr;
  state_ = State::Idle;
}

void RedisClient::on_connect_timeout() {
  if (state_ == State::Resolving) {
    resolve_.cancel(); // a late answer is ignored
    state_ = State::Idle;
    fail_waiting(fmt::format("{}: no answer to name resolution within {} ms",
                             hamba::format_endpoint(server_), options_.connect_timeout_ms));
    return;
  }
  if (state_ == State::Connecting && context_) {
    last_error_ = fmt::format("no connection within {} ms", options_.connect_timeout_ms);
    redisAsyncContext* ac = std::exchange(context_, nullptr);
    state_ = State::Idle;
    redisAsyncFree(ac); // fails the commands it holds, with last_error_
  }
}

} // namespace services
