// A blocking loopback client for the services' HTTP server tests: one socket, reads that give
// up after 5 s (the tests' safety net, not a measurement), and looks at the connection's state
// that do not read (a stalled client must keep its window shut).
#pragma once

#include <cerrno>
#include <chrono>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace test_support {

// How a Client takes answers: `stalled` never reads them and holds a zero window at once (a
// tiny receive buffer, and a small MSS in its SYN, which the server's kernel sizes its send
// buffer on); the test then only looks at the socket's state, never reads.
enum class Reading { normal, stalled };

// A blocking client socket; reads give up after 5 s (the test's safety net, not a measurement).
class Client {
public:
  explicit Client(uint16_t port, Reading reading = Reading::normal) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    if (reading == Reading::stalled) {
      int rcvbuf = 1024, mss = 536;
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
      ::setsockopt(fd_, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
    }
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

  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Something to read (or the end) has arrived.
  bool readable() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
  }
  // The first bytes of an answer have come (looked at, not read), within 5 s.
  bool answer_started() {
    for (int i = 0; i < 500; ++i) {
      char head[12];
      if (::recv(fd_, head, sizeof head, MSG_PEEK | MSG_DONTWAIT) == sizeof head)
        return std::string(head, sizeof head) == "HTTP/1.1 200";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  // The connection's TCP state (TCP_ESTABLISHED, TCP_CLOSE after a reset, ...), seen without
  // reading: reading would open a stalled client's window.
  int tcp_state() const {
    tcp_info info{};
    socklen_t len = sizeof info;
    ::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &len);
    return info.tcpi_state;
  }
  // Polls tcp_state() until the server has closed the connection (FIN or RST), for up to 5 s;
  // returns the state then.
  int wait_closed() const {
    int state = tcp_state();
    for (int i = 0; i < 500 && state == TCP_ESTABLISHED; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      state = tcp_state();
    }
    return state;
  }
  // Whatever has come, up to 4 KiB (empty at the end or after 5 s).
  std::string read_some() {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  // Everything until the server closes (or the 5 s safety net); `closed` says which.
  std::string read_to_close(bool* closed = nullptr) {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (closed)
          *closed = n == 0 || errno == ECONNRESET;
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
  }
  // One answer on a kept-alive connection: reads until the body of a short answer is in.
  std::string read_answer() {
    std::string out;
    char buf[4096];
    while (out.find("\n", out.find("\r\n\r\n") + 4) == std::string::npos ||
           out.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0)
        break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

private:
  int fd_ = -1;
};

} // namespace test_support
