// Active health checks: the connect, the request and the reply; see health_check.h.
#include "balance/health_check.h"

#include "balance/http_check.h"
#include "balance/redis_check.h"
#include "base/descriptors.h"
#include "base/log.h"

#include <chrono>

namespace hamba::balance {

namespace {
int64_t unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// "rng1" for port 80, else "rng1:8080", with brackets for IPv6: the Host an http check sends
// when none is configured.
std::string default_host(const config::Endpoint& name) {
  if (name.port == 80)
    return name.host.find(':') == std::string::npos ? name.host : "[" + name.host + "]";
  return config::format_endpoint(name);
}
} // namespace

HealthCheck::HealthCheck(uv_loop_t* loop, ServerPtr server, const config::HealthCheck& params,
                         Callback on_change, std::shared_ptr<const net::TlsClientContext> tls)
    : loop_(loop), server_(std::move(server)), params_(params), on_change_(std::move(on_change)),
      tls_context_(std::move(tls)) {
  timer_.init(loop_, this);
  // The first probe soon, spread a little so many servers are not checked in one burst.
  arm(reinterpret_cast<uintptr_t>(this) / 64 % 100);
}

HealthCheck::~HealthCheck() {
  tls_.reset(); // before the transport it is over
}

std::unique_ptr<CheckProtocol> HealthCheck::make_protocol() const {
  switch (params_.type) {
  case config::CheckType::http:
    return std::make_unique<HttpCheck>(
        params_.path, params_.host.empty() ? default_host(server_->name()) : params_.host,
        StatusRange{params_.status_low, params_.status_high});
  case config::CheckType::redis:
    return std::make_unique<RedisCheck>();
  case config::CheckType::tcp:
    break;
  }
  return std::make_unique<TcpCheck>();
}

void HealthCheck::arm(uint64_t delay_ms) {
  timer_.start<&HealthCheck::on_timer>(delay_ms);
}

void HealthCheck::on_timer() {
  if (probing_)
    finish_probe(false, "timeout"); // the timer was the probe's timeout
  else
    start_probe();
}

void HealthCheck::start_probe() {
  protocol_ = make_protocol();
  tls_.reset();
  tcp_ = std::make_unique<net::TcpTransport>();
  tcp_->set_handler(this);
  int rc = tcp_->connect(loop_, server_->sockaddr_ptr());
  if (rc >= 0) {
    probing_ = true;
    arm(static_cast<uint64_t>(params_.timeout.count()));
    if (rc == 1) // connected at once: no on_connected comes
      on_connected(*tcp_, 0);
    return;
  }
  // Could not even start: no file descriptors (hamba's problem), or the address is refused at
  // once (the server's).
  probing_ = true;
  if (is_local_error(rc))
    abandon_probe(rc);
  else
    finish_probe(false, uvx::error_text(rc));
}

void HealthCheck::on_connected(net::Transport& t, int status) {
  if (&t == tls_.get()) { // the handshake is done: the check goes on inside it
    send_request(*tls_);
    return;
  }
  if (status < 0) {
    if (is_local_error(status))
      abandon_probe(status);
    else
      finish_probe(false, uvx::error_text(status));
    return;
  }
  if (!tls_context_) {
    send_request(*tcp_);
    return;
  }
  tls_ = std::make_unique<net::TlsTransport>(*tcp_, tls_context_, loop_);
  tls_->set_handler(this);
  if (int rc = tls_->start_handshake(); rc < 0)
    finish_probe(false, uvx::error_text(rc));
}

void HealthCheck::send_request(net::Transport& io) {
  std::string request = protocol_->request();
  if (request.empty()) {
    finish_probe(true, {}); // a tcp check: the connect (or the handshake) was all
    return;
  }
  uv_buf_t out = uv_buf_init(request.data(), static_cast<unsigned>(request.size()));
  int rc = io.write(&out, 1); // sent, or copied into the transport's queue
  if (rc == 0)
    rc = io.start_reading();
  if (rc < 0)
    finish_probe(false, uvx::error_text(rc));
}

void HealthCheck::on_read(net::Transport&, const char* data, size_t len) {
  judge(protocol_->feed(std::string_view(data, len)));
}

void HealthCheck::on_eof(net::Transport&) {
  judge(protocol_->end());
}

void HealthCheck::judge(Verdict v) {
  if (v != Verdict::more)
    finish_probe(v == Verdict::pass, protocol_->detail());
}

void HealthCheck::on_error(net::Transport&, int error) {
  if (tls_ && !tls_->established()) {
    finish_probe(false, std::string("TLS handshake failed: ") + tls_->failure_text());
    return;
  }
  finish_probe(false, uvx::error_text(error));
}

void HealthCheck::stop_probe() {
  // Closed, not destroyed: this may run inside one of their callbacks.
  if (tls_)
    tls_->close();
  else if (tcp_)
    tcp_->close();
  probing_ = false;
  protocol_.reset();
  arm(static_cast<uint64_t>(params_.interval.count()));
}

void HealthCheck::abandon_probe(int status) {
  // hamba's own shortage (no descriptor, no memory), not the server's: no verdict, and the next
  // probe comes at the next interval. Logged at most once a second.
  ++local_errors_;
  uint64_t now = uv_now(loop_);
  if (now - last_local_log_ >= 1000 || last_local_log_ == 0) {
    log::warn("health check of server {} not run: hamba is short of descriptors or memory "
              "({}), not the server; {} check(s) skipped so far",
              server_->label(), uvx::error_text(status), local_errors_);
    last_local_log_ = now;
  }
  stop_probe();
}

void HealthCheck::finish_probe(bool ok, std::string detail) {
  stop_probe();
  if (server_->record_check(ok, detail, params_.rise, params_.fall, unix_ms()))
    on_change_(*server_); // last: the callback may destroy this check
}

} // namespace hamba::balance
