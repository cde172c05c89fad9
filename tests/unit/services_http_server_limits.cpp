// HttpServer against clients that misbehave, over real loopback sockets: a head trickled past
// its deadline gets 408, a silent connection is closed, a CRLF flood gets 400, HTTP/9.9 gets
// 505, an answer its client does not read is reset at the write deadline, and a full server
// evicts a connection whose answer is stalled, or that never completed a request, for a new one.
// The server runs its loop on a thread of its own; the clients are plain blocking sockets.
#include "base/http_server.h"
#include "blocking_client.h"

#include <arpa/inet.h>
#include <chrono>
#include <doctest/doctest.h>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <uv.h>

namespace {

// The body of /big: more than the kernels buffer for a reader that holds a zero window, however
// they size the buffers (the sender's autotunes up to tcp_wmem's maximum, 4 MB by default).
constexpr std::size_t kBigAnswer = 8 << 20;

// One HttpServer on 127.0.0.1:<port 0>, its loop on a thread until the destructor.
class ServerThread {
public:
  explicit ServerThread(http::ServerOptions options) {
    uv_loop_init(&loop_);
    server_ = std::make_unique<http::HttpServer>(
        &loop_,
        [](http::Request&& request, http::Reply reply) {
          if (request.target == "/big")
            return reply(http::Response::text(200, std::string(kBigAnswer, 'x')));
          reply(http::Response::text(200, "hello " + request.target + "\n"));
        },
        options);
    server_->listen("127.0.0.1", 0);
    port_ = server_->port();
    stop_.data = this;
    uv_async_init(&loop_, &stop_, [](uv_async_t* a) {
      auto* self = static_cast<ServerThread*>(a->data);
      self->server_->close();
      uv_close(reinterpret_cast<uv_handle_t*>(&self->stop_), nullptr);
    });
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  ~ServerThread() {
    uv_async_send(&stop_);
    thread_.join();
    server_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  uint16_t port() const { return port_; }

private:
  uv_loop_t loop_{};
  uv_async_t stop_{};
  std::unique_ptr<http::HttpServer> server_;
  uint16_t port_ = 0;
  std::thread thread_;
};

using test_support::Client;
using test_support::Reading;

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

} // namespace

TEST_CASE("http server: a head trickled past its deadline gets 408, bytes do not extend it") {
  http::ServerOptions options;
  options.head_timeout_ms = 300; // the idle timeout (60 s) is far away: only the deadline acts
  ServerThread server(options);
  Client slow(server.port());
  REQUIRE(slow.send("GET / HTTP/1.1\r\nX-Trickle: "));
  bool answered = false;                       // while the bytes still come
  for (int i = 0; i < 100 && !answered; ++i) { // a byte every 50 ms, for up to 5 s
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    answered = slow.readable() || !slow.send("x");
  }
  CHECK(answered);
  bool closed = false;
  std::string answer = slow.read_to_close(&closed);
  CHECK(closed);
  CHECK(starts_with(answer, "HTTP/1.1 408 Request Timeout\r\n"));
  CHECK(answer.find("Connection: close") != std::string::npos);
}

TEST_CASE("http server: a connection that never sends a byte is closed without an answer") {
  http::ServerOptions options;
  options.head_timeout_ms = 200;
  ServerThread server(options);
  Client silent(server.port());
  bool closed = false;
  CHECK(silent.read_to_close(&closed).empty());
  CHECK(closed);
}

TEST_CASE("http server: the deadline is per request: a kept-alive connection gets a new one") {
  http::ServerOptions options;
  options.head_timeout_ms = 400;
  ServerThread server(options);
  Client c(server.port());
  for (int i = 0; i < 3; ++i) { // 3 x 250 ms: more than one deadline in all, less each time
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    REQUIRE(c.send("GET /" + std::to_string(i) + " HTTP/1.1\r\n\r\n"));
    std::string answer = c.read_answer();
    CHECK(starts_with(answer, "HTTP/1.1 200 OK\r\n"));
    CHECK(answer.find("hello /" + std::to_string(i)) != std::string::npos);
  }
}

TEST_CASE("http server: a CRLF flood gets 400 and the connection is closed") {
  ServerThread server({});
  Client flood(server.port());
  bool sent = true;
  for (int i = 0; i < 100 && sent; ++i)
    sent = flood.send("\r\n");
  bool closed = false;
  std::string answer = flood.read_to_close(&closed);
  CHECK(closed);
  CHECK(starts_with(answer, "HTTP/1.1 400 Bad Request\r\n"));
  CHECK(answer.find("empty lines") != std::string::npos);
}

TEST_CASE("http server: HTTP/9.9 gets 505 and the connection is closed") {
  ServerThread server({});
  Client c(server.port());
  REQUIRE(c.send("GET /metrics HTTP/9.9\r\n\r\n"));
  bool closed = false;
  std::string answer = c.read_to_close(&closed);
  CHECK(closed);
  CHECK(starts_with(answer, "HTTP/1.1 505 HTTP Version Not Supported\r\n"));
}

TEST_CASE("http server: when full, a new client takes the place of one that completed nothing") {
  http::ServerOptions options;
  options.max_connections = 3;
  ServerThread server(options);
  Client served(server.port()); // completes a request and stays: it keeps its place
  REQUIRE(served.send("GET /first HTTP/1.1\r\n\r\n"));
  CHECK(starts_with(served.read_answer(), "HTTP/1.1 200 OK\r\n"));
  Client oldest(server.port());
  REQUIRE(oldest.send("GET / HTTP/1.1\r\nX-Slow: "));
  std::this_thread::sleep_for(std::chrono::milliseconds(50)); // accepted in this order
  Client younger(server.port());
  REQUIRE(younger.send("GET / HTTP/1.1\r\nX-Slow: "));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  Client newcomer(server.port()); // the server is full: `oldest` makes room
  REQUIRE(newcomer.send("GET /new HTTP/1.1\r\nConnection: close\r\n\r\n"));
  std::string answer = newcomer.read_to_close();
  CHECK(starts_with(answer, "HTTP/1.1 200 OK\r\n"));
  CHECK(answer.find("hello /new") != std::string::npos);
  bool closed = false;
  CHECK(oldest.read_to_close(&closed).empty());
  CHECK(closed);

  REQUIRE(served.send("GET /again HTTP/1.1\r\n\r\n")); // still there
  CHECK(served.read_answer().find("hello /again") != std::string::npos);
  REQUIRE(younger.send("x\r\n\r\n")); // and so is the younger slow one
  CHECK(younger.read_answer().find("hello /") != std::string::npos);
}

TEST_CASE("http server: an answer read as it comes is written in full, head and body") {
  ServerThread server({});
  Client c(server.port());
  REQUIRE(c.send("GET /big HTTP/1.1\r\nConnection: close\r\n\r\n"));
  bool closed = false;
  std::string answer = c.read_to_close(&closed);
  CHECK(closed);
  CHECK(starts_with(answer, "HTTP/1.1 200 OK\r\n"));
  const size_t body = answer.find("\r\n\r\n");
  REQUIRE(body != std::string::npos);
  CHECK(answer.size() - (body + 4) == kBigAnswer);
  CHECK(answer.find("Content-Length: " + std::to_string(kBigAnswer) + "\r\n") < body);
}

TEST_CASE("http server: an answer its client does not read is reset at the write deadline") {
  http::ServerOptions options;
  options.write_timeout_ms = 300; // the idle timeout (60 s) is far away: only the deadline acts
  ServerThread server(options);
  Client stalled(server.port(), Reading::stalled);
  REQUIRE(stalled.send("GET /big HTTP/1.1\r\n\r\n"));
  REQUIRE(stalled.answer_started());
  CHECK(stalled.wait_closed() == TCP_CLOSE); // a reset: a FIN would wait behind the answer
}

TEST_CASE("http server: when full, a new client takes the place of the longest-stalled answer") {
  http::ServerOptions options;
  options.max_connections = 3;
  options.write_stall_ms = 100;
  options.write_timeout_ms = 60000; // far away: only the eviction acts
  ServerThread server(options);
  Client oldest(server.port(), Reading::stalled);
  REQUIRE(oldest.send("GET /big HTTP/1.1\r\n\r\n"));
  REQUIRE(oldest.answer_started());
  std::this_thread::sleep_for(std::chrono::milliseconds(50)); // answered in this order
  Client younger(server.port(), Reading::stalled);
  REQUIRE(younger.send("GET /big HTTP/1.1\r\n\r\n"));
  REQUIRE(younger.answer_started());
  Client slow(server.port()); // never completes a request: it goes after the stalled answers
  REQUIRE(slow.send("GET / HTTP/1.1\r\nX-Slow: "));
  std::this_thread::sleep_for(std::chrono::milliseconds(150)); // both answers now stalled

  Client newcomer(server.port()); // the server is full: `oldest` makes room
  REQUIRE(newcomer.send("GET /new HTTP/1.1\r\nConnection: close\r\n\r\n"));
  std::string answer = newcomer.read_to_close();
  CHECK(starts_with(answer, "HTTP/1.1 200 OK\r\n"));
  CHECK(answer.find("hello /new") != std::string::npos);
  CHECK(oldest.wait_closed() == TCP_CLOSE);
  CHECK(younger.tcp_state() == TCP_ESTABLISHED);
  REQUIRE(slow.send("x\r\n\r\n")); // still there too
  CHECK(slow.read_answer().find("hello /") != std::string::npos);
}

TEST_CASE("http server: an answer not stalled yet keeps its place, a new client is closed") {
  http::ServerOptions options;
  options.max_connections = 1;
  options.write_stall_ms = 60000; // far away: the answer stays a fresh one
  ServerThread server(options);
  Client writing(server.port(), Reading::stalled);
  REQUIRE(writing.send("GET /big HTTP/1.1\r\n\r\n"));
  REQUIRE(writing.answer_started());
  Client newcomer(server.port());
  REQUIRE(newcomer.send("GET /new HTTP/1.1\r\n\r\n"));
  bool closed = false;
  CHECK(newcomer.read_to_close(&closed).empty());
  CHECK(closed);
  CHECK(writing.tcp_state() == TCP_ESTABLISHED);
}
