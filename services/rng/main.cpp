// rng: DockerCoins' random number service. `GET /<n>` answers n random bytes after a simulated
// delay; `--concurrency` requests are served at a time (default 1, like the original
// single-threaded Flask server), the rest wait in line. That line is the workshop's bottleneck.
//
//     rng --listen 0.0.0.0:80 --delay-ms 100 --concurrency 1
#include "base/http_server.h"
#include "common/crypto.h"
#include "common/delayed_calls.h"
#include "common/flags.h"
#include "common/hostname.h"
#include "common/log.h"
#include "common/service_main.h"
#include "common/stop_signals.h"

#include <charconv>
#include <deque>
#include <uv.h>

namespace {

using services::log::debug;

// Serves the requests for random bytes in arrival order, `concurrency` at a time.
class RandomBytesLine {
public:
  RandomBytesLine(uv_loop_t* loop, std::uint64_t delay_ms, std::size_t concurrency,
                  std::size_t max_waiting)
      : delays_(loop), delay_ms_(delay_ms), concurrency_(concurrency), max_waiting_(max_waiting) {}

  void add(std::size_t n, http::Reply reply) {
    if (waiting_.size() >= max_waiting_)
      return reply(http::Response::error(503, "too many requests waiting"));
    waiting_.push_back({n, std::move(reply)});
    start_next();
  }
  void stop() {
    delays_.cancel_all();
    waiting_.clear();
  }

private:
  struct Job {
    std::size_t bytes;
    http::Reply reply;
  };
  void start_next() {
    while (busy_ < concurrency_ && !waiting_.empty()) {
      Job job = std::move(waiting_.front());
      waiting_.pop_front();
      ++busy_;
      delays_.after(delay_ms_, [this, job = std::move(job)] {
        --busy_;
        http::Response r;
        r.content_type = "application/octet-stream";
        r.body = services::random_bytes(job.bytes);
        debug("sending {} random bytes", job.bytes);
        job.reply(std::move(r));
        start_next();
      });
    }
  }

  services::DelayedCalls delays_;
  std::uint64_t delay_ms_;
  std::size_t concurrency_;
  std::size_t max_waiting_;
  std::size_t busy_ = 0;
  std::deque<Job> waiting_;
};

} // namespace

int main(int argc, char** argv) {
  services::Flags flags("rng", "DockerCoins rng: GET /<n> answers n random bytes.");
  flags.add("listen", "0.0.0.0:80", "ADDR:PORT to listen on");
  flags.add("delay-ms", "100", "simulated work per request, in milliseconds");
  flags.add("concurrency", "1", "requests served at a time (the rest wait in line)");
  flags.add("max-bytes", "1048576", "largest n accepted in GET /<n> (more: 400)");
  flags.add_switch("debug", "debug logs (also DEBUG=y)");
  flags.parse_or_exit(argc, argv);
  return services::run_service([&](uv_loop_t* loop) {
    const auto listen = flags.host_port("listen");
    const auto delay_ms = flags.number("delay-ms", 0, 600000);
    const auto concurrency = flags.number("concurrency", 1, 10000);
    const auto max_bytes = flags.number("max-bytes", 0, 64 << 20);
    services::log::init("rng", flags.on("debug"));

    RandomBytesLine line(loop, delay_ms, concurrency, 100000);
    const std::string hello = "RNG running on " + services::hostname() + "\n";
    http::HttpServer server(loop, [&](http::Request&& req, http::Reply reply) {
      debug("{} {} from {}", req.method, req.target, req.peer);
      const std::string_view path = req.path;
      if (path.size() < 1 || path.find('/', 1) != std::string_view::npos)
        return reply(http::Response::error(404));
      if (req.method != "GET" && req.method != "HEAD")
        return reply(http::Response::method_not_allowed("GET, HEAD"));
      if (path == "/")
        return reply(http::Response::text(200, hello));
      const std::string_view digits = path.substr(1);
      std::uint64_t n = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (ec != std::errc() || end != digits.data() + digits.size())
        return reply(http::Response::error(400, fmt::format("'{}' is not a byte count", digits)));
      if (n > max_bytes)
        return reply(http::Response::error(
            400, fmt::format("{} bytes is more than the limit of {}", digits, max_bytes)));
      line.add(n, std::move(reply));
    });
    server.listen(listen.host, listen.port);
    // SIGTERM: the requests already in (in line too) are answered, for kDrainMs at most.
    services::StopSignals stop(
        loop,
        [&] {
          server.drain([&] {
            server.close();
            line.stop();
          });
        },
        services::kDrainMs);
    services::log::info("listening on {} (delay {} ms, concurrency {})",
                        hamba::format_endpoint(listen), delay_ms, concurrency);
    uv_run(loop, UV_RUN_DEFAULT);
  });
}
