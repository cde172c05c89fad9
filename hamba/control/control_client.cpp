// Blocking control socket client (see control_client.h).
#include "control/control_client.h"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace hamba::control {
namespace {

// Closes the descriptor on every path out of send_request.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0)
      ::close(fd);
  }
};

std::string hint(const std::string& path) {
  return " (is `hamba run` running with this control socket? set --control PATH or "
         "HAMBA_CONTROL; the default is $HOME/.hamba.sock, here " +
         path + ")";
}

// Waits until fd is ready for `events` or the deadline passes.
void wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline,
              const std::string& path) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      throw Unreachable("no reply from hamba on control socket " + path + " in time");
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc > 0)
      return;
    if (rc < 0 && errno != EINTR)
      throw Unreachable("control socket " + path + ": poll: " + std::strerror(errno));
  }
}

} // namespace

Reply send_request(const std::string& path, const Request& request,
                   std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path))
    throw Unreachable("control socket path " + path + " is too long");
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);

  Fd s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0)
    throw Unreachable(std::string("cannot create a unix socket: ") + std::strerror(errno));
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) < 0)
    throw Unreachable("cannot reach hamba on control socket " + path + ": " + std::strerror(errno) +
                      hint(path));

  std::string out = encode_request(request);
  size_t sent = 0;
  while (sent < out.size()) {
    wait_for(s.fd, POLLOUT, deadline, path);
    ssize_t n = ::send(s.fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (n < 0)
      throw Unreachable("control socket " + path + ": send: " + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
  ::shutdown(s.fd, SHUT_WR); // EOF ends the request

  std::string in;
  char chunk[16 * 1024];
  for (;;) {
    wait_for(s.fd, POLLIN, deadline, path);
    ssize_t n = ::recv(s.fd, chunk, sizeof(chunk), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (n < 0)
      throw Unreachable("control socket " + path + ": receive: " + std::strerror(errno));
    if (n == 0)
      break;
    in.append(chunk, static_cast<size_t>(n));
    if (in.size() > 64 * max_request_bytes)
      throw Unreachable("reply from control socket " + path + " is unreasonably large");
  }
  if (in.empty())
    throw Unreachable("hamba on control socket " + path + " closed without replying");
  try {
    return decode_reply(in);
  } catch (const std::invalid_argument& e) {
    throw Unreachable(std::string(e.what()) + " from control socket " + path);
  }
}

} // namespace hamba::control
