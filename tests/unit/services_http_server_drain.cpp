// HttpServer::drain, the services' graceful stop, over real loopback sockets on one thread: the
// clients are blocking sockets that connect while the loop does not run, so their connections
// wait in the kernel's accept queue when drain() comes; each is answered (Connection: close),
// a kept-alive connection waiting for its next request is closed, and on_drained runs once the
// last connection is gone, which lets the loop end.
#include "base/http_server.h"

#include <arpa/inet.h>
#include <chrono>
#include <doctest/doctest.h>
#include <memory>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <uv.h>
#include <vector>

namespace {

// A blocking client socket; reads give up after 5 s (the test's safety net).
class Client {
public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    timeval five{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send(const std::string& bytes) {
    REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(bytes.size()));
  }
  bool readable() const {
    char c;
    return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0;
  }
  // Everything until the server closes (or the 5 s safety net).
  std::string read_to_close() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd_, buf, sizeof buf, 0)) > 0)
      out.append(buf, static_cast<size_t>(n));
    return out;
  }
  std::string read_some() {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

private:
  int fd_ = -1;
};

const std::string kGet = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";

} // namespace

TEST_CASE("http server: drain answers what is in, the accept queue too, then is done") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    http::HttpServer server(&loop, [](http::Request&& request, http::Reply reply) {
      reply(http::Response::text(200, "hello " + request.target + "\n"));
    });
    server.listen("127.0.0.1", 0);

    // A kept-alive connection with one request answered, now waiting for its next.
    Client idle(server.port());
    idle.send(kGet);
    for (int i = 0; i < 500 && !idle.readable(); ++i) {
      uv_run(&loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(idle.read_some().find("hello /x") != std::string::npos);

    // The loop does not run: these wait in the accept queue, their requests sent.
    std::vector<std::unique_ptr<Client>> queued;
    for (int i = 0; i < 4; ++i) {
      queued.push_back(std::make_unique<Client>(server.port()));
      queued.back()->send(kGet);
    }
    bool drained = false;
    server.drain([&] {
      drained = true;
      server.close();
    });
    CHECK(!drained);
    uv_run(&loop, UV_RUN_DEFAULT); // ends once nothing is left
    CHECK(drained);
    CHECK(server.connection_count() == 0);
    for (auto& c : queued) {
      std::string answer = c->read_to_close();
      CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
      CHECK(answer.find("Connection: close") != std::string::npos);
      CHECK(answer.find("hello /x") != std::string::npos);
    }
    CHECK(idle.read_to_close().empty());
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("http server: drain with nothing in is done at once") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    http::HttpServer server(
        &loop, [](http::Request&&, http::Reply reply) { reply(http::Response::text(200, "x")); });
    server.listen("127.0.0.1", 0);
    bool drained = false;
    server.drain([&] { drained = true; });
    CHECK(drained);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}
