// Unit tests for control/: the wire format, the socket path rules, and a real server and client
// talking over a unix socket (the server on a libuv loop, the blocking client on a thread).
#include "base/uv_handle.h"
#include "control/control_client.h"
#include "control/control_server.h"
#include "control/protocol.h"

#include <atomic>
#include <doctest/doctest.h>
#include <functional>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace hamba::control;

namespace {

// A fresh path in a private temporary directory, removed with the directory afterwards.
struct TempSocketPath {
  std::string dir;
  std::string path;
  TempSocketPath() {
    char tmpl[] = "/tmp/hamba-control-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    path = dir + "/ctl.sock";
  }
  ~TempSocketPath() {
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
  }
};

// Runs `client` on a thread while `loop` serves, and returns when the client is done.
void run_client(uv_loop_t* loop, const std::function<void()>& client) {
  uvx::Handle<uv_async_t> done;
  uvx::check(done.init([&](uv_async_t* a) {
    return uv_async_init(loop, a, [](uv_async_t* h) { uv_stop(h->loop); });
  }),
             "async");
  std::thread thread([&] {
    client();
    uv_async_send(done.get());
  });
  uv_run(loop, UV_RUN_DEFAULT);
  thread.join();
}

} // namespace

TEST_CASE("control protocol: requests and replies survive encoding") {
  Request r{"reconfigure", "", "frontends:\n  - bind: ':80'\n"};
  CHECK(decode_request(encode_request(r)) == r);
  Request d{"disable", "web1:80", ""};
  CHECK(encode_request(d) == "disable web1:80\n");
  CHECK(decode_request(encode_request(d)) == d);
  CHECK(decode_request("showconfig") == Request{"showconfig", "", ""});
  CHECK(decode_request("showconfig\r\n") == Request{"showconfig", "", ""});
  CHECK(decode_request("showconfig\r\r\n") == Request{"showconfig", "", ""});
  CHECK(decode_request("disable web1:80 \r\n") == Request{"disable", "web1:80", ""});
  CHECK_THROWS_AS(decode_request(""), std::invalid_argument);
  CHECK_THROWS_AS(decode_request("\nstuff"), std::invalid_argument);

  Reply ok = Reply::success("", "maxconn: 256\n");
  CHECK(decode_reply(encode_reply(ok)) == ok);
  Reply note = Reply::success("disabled 2 servers");
  CHECK(decode_reply(encode_reply(note)) == note);
  Reply bad = Reply::failure("test.yaml:3:5: unknown key 'x'\nsecond line");
  CHECK(encode_reply(bad) == "error test.yaml:3:5: unknown key 'x' second line\n");
  CHECK_FALSE(decode_reply(encode_reply(bad)).ok);
  CHECK_THROWS_AS(decode_reply("HTTP/1.1 400 Bad Request\r\n"), std::invalid_argument);
}

TEST_CASE("control socket path: flag, then HAMBA_CONTROL, then $HOME") {
  CHECK(socket_path("/x.sock", {{"HAMBA_CONTROL", "/y.sock"}, {"HOME", "/home/a"}}) == "/x.sock");
  CHECK(socket_path("", {{"HAMBA_CONTROL", "/y.sock"}, {"HOME", "/home/a"}}) == "/y.sock");
  CHECK(socket_path("", {{"HOME", "/home/a"}}) == "/home/a/.hamba.sock");
  CHECK(socket_path("", {{"HOME", "/home/a/"}}) == "/home/a/.hamba.sock");
  CHECK(socket_path("", {{"HOME", "/"}}) == "/.hamba.sock");
  CHECK(socket_path("", {}) == "/run/.hamba.sock"); // the original image's HOME
}

TEST_CASE("control socket: a request reaches the handler and its reply the client") {
  TempSocketPath tmp;
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    std::optional<Request> seen;
    ControlServer server(&loop, tmp.path, [&](const Request& r) {
      seen = r;
      if (r.command == "showconfig")
        return Reply::success({}, "frontends: []\n");
      if (r.command == "explode")
        throw std::runtime_error("handler failed: boom");
      return Reply::failure("unknown command '" + r.command + "'");
    });

    struct stat st {};
    REQUIRE(::stat(tmp.path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);

    Reply reply, refused, exploded, big;
    run_client(&loop, [&] {
      reply = send_request(tmp.path, {"showconfig", "", ""});
      refused = send_request(tmp.path, {"frobnicate", "a:1", ""});
      exploded = send_request(tmp.path, {"explode", "", ""});
      big = send_request(tmp.path, {"reconfigure", "", std::string(max_request_bytes + 1, 'x')});
    });
    CHECK(reply == Reply::success({}, "frontends: []\n"));
    CHECK_FALSE(refused.ok);
    CHECK(refused.message == "unknown command 'frobnicate'");
    CHECK_FALSE(exploded.ok);
    CHECK(exploded.message == "handler failed: boom");
    CHECK_FALSE(big.ok);
    CHECK(big.message.find("larger than") != std::string::npos);
    REQUIRE(seen.has_value());
    CHECK(seen->command == "explode");

    // A second server on a live socket refuses to start and leaves the first one alone.
    CHECK_THROWS_WITH_AS(ControlServer(&loop, tmp.path, [](const Request&) { return Reply{}; }),
                         doctest::Contains("another hamba"), std::runtime_error);
    CHECK(::access(tmp.path.c_str(), F_OK) == 0);
  }
  // The server removes its socket file when it goes.
  CHECK(::access(tmp.path.c_str(), F_OK) != 0);
  uv_run(&loop, UV_RUN_DEFAULT); // lets the closed handles free their memory
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("control socket: a stale socket file is replaced, any other file is not") {
  TempSocketPath tmp;
  { // a socket file nobody listens on, as a crashed hamba leaves it
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", tmp.path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    ::close(fd);
  }
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    ControlServer server(&loop, tmp.path, [](const Request&) { return Reply::success("here"); });
    Reply reply;
    run_client(&loop, [&] { reply = send_request(tmp.path, {"showconfig", "", ""}); });
    CHECK(reply.message == "here");
  }
  FILE* plain = std::fopen(tmp.path.c_str(), "w");
  REQUIRE(plain != nullptr);
  std::fclose(plain);
  CHECK_THROWS_WITH_AS(ControlServer(&loop, tmp.path, [](const Request&) { return Reply{}; }),
                       doctest::Contains("not a socket"), std::runtime_error);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("control socket: clients that never finish their request cannot pile up") {
  TempSocketPath tmp;
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    ControlServer server(&loop, tmp.path, [](const Request&) { return Reply::success("fine"); });
    std::vector<int> stuck;
    Reply reply;
    bool all_connected = true;
    ssize_t oldest_read = 1;
    run_client(&loop, [&] { // no doctest assertion on this thread: results are checked after
      for (size_t i = 0; i < ControlServer::max_connections + 4; ++i) {
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", tmp.path.c_str());
        all_connected &= ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
        (void)!::write(fd, "showconfig", 10); // and never an end of file
        stuck.push_back(fd);
      }
      reply = send_request(tmp.path, {"showconfig", "", ""});
      // The oldest stuck client was closed to make room: it reads an end of file (or a reset).
      pollfd p{stuck.front(), POLLIN, 0};
      char c;
      if (::poll(&p, 1, 5000) == 1) // not closed: the test fails instead of hanging
        oldest_read = ::read(stuck.front(), &c, 1);
    });
    CHECK(all_connected);
    CHECK(oldest_read <= 0);
    CHECK(reply.message == "fine");
    for (int fd : stuck)
      ::close(fd);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("control client: nothing listening is a clear error, not a hang") {
  TempSocketPath tmp;
  CHECK_THROWS_WITH_AS(send_request(tmp.path, {"showconfig", "", ""}, std::chrono::seconds(2)),
                       doctest::Contains("cannot reach hamba"), Unreachable);
}
