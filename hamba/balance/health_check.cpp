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
                         Callback on_change)
    : loop_(loop), server_(std::move(server)), params_(params), on_change_(std::move(on_change)) {
  timer_.init(loop_, this);
  // The first probe soon, spread a little so many servers are not checked in one burst.
  arm(reinterpret_cast<uintptr_t>(this) / 64 % 100);
}

HealthCheck::~HealthCheck() = default; // the requests detach: their callbacks only free them

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
  if (probe_)
    finish_probe(false, "timeout"); // the timer was the probe's timeout
  else
    start_probe();
}

void HealthCheck::start_probe() {
  protocol_ = make_protocol();
  int rc = probe_.init([&](uv_tcp_t* h) { return uv_tcp_init(loop_, h); });
  if (rc == 0) {
    probe_.set_data(this);
    rc = connect_.start<&HealthCheck::on_connected>(this, [&](uv_connect_t* req, auto done) {
      return uv_tcp_connect(req, probe_.get(), server_->sockaddr_ptr(), done);
    });
  }
  if (rc == 0) {
    arm(static_cast<uint64_t>(params_.timeout.count()));
    return;
  }
  // Could not even start: no file descriptors (hamba's problem), or the address is refused at
  // once (the server's).
  if (is_local_error(rc))
    abandon_probe(rc);
  else
    finish_probe(false, uvx::error_text(rc));
}

void HealthCheck::on_connected(int status) {
  if (status < 0) {
    if (is_local_error(status))
      abandon_probe(status);
    else
      finish_probe(false, uvx::error_text(status));
    return;
  }
  std::string request = protocol_->request();
  if (request.empty()) {
    finish_probe(true, {}); // a tcp check: the connect was all
    return;
  }
  // The request's bytes travel with the write.
  int rc = write_.start<&HealthCheck::on_written>(
      this,
      [&](uv_write_t* req, std::string& bytes, auto done) {
        uv_buf_t out = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
        return uv_write(req, probe_.stream(), &out, 1, done);
      },
      [&](std::string& bytes) { bytes = std::move(request); });
  if (rc == 0)
    rc = uv_read_start(
        probe_.stream(),
        [](uv_handle_t* h, size_t, uv_buf_t* b) {
          auto* self = uvx::Handle<uv_tcp_t>::owner<HealthCheck>(h);
          *b = uv_buf_init(self->buffer_, sizeof self->buffer_);
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
          if (auto* self = uvx::Handle<uv_tcp_t>::owner<HealthCheck>(s))
            self->on_read(nread);
        });
  if (rc < 0)
    finish_probe(false, uvx::error_text(rc));
}

void HealthCheck::on_written(int status) {
  if (status < 0 && status != UV_ECANCELED)
    finish_probe(false, uvx::error_text(status));
}

void HealthCheck::on_read(ssize_t nread) {
  if (nread == 0)
    return;
  Verdict v;
  if (nread > 0)
    v = protocol_->feed(std::string_view(buffer_, static_cast<size_t>(nread)));
  else if (nread == UV_EOF)
    v = protocol_->end();
  else {
    finish_probe(false, uvx::error_text(static_cast<int>(nread)));
    return;
  }
  if (v != Verdict::more)
    finish_probe(v == Verdict::pass, protocol_->detail());
}

void HealthCheck::stop_probe() {
  connect_.detach(); // a timeout: the callbacks (ECANCELED, after the close) are ignored
  write_.detach();
  probe_.close();
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
