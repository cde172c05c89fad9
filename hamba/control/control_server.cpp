// The control socket server (see control_server.h): accept, read one request to EOF, answer,
// close. Requests are tiny and rare, so simplicity wins over throughput here, but every buffer
// is still bounded (protocol.h's max_request_bytes) and nothing blocks the loop.
#include "control/control_server.h"

#include "base/uv_request.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>

namespace hamba::control {
namespace {

// True when a process accepts connections on the unix socket at `path` right now. A plain
// blocking connect: called once before the loop runs, and a unix connect answers at once.
bool someone_listens(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  bool listening = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return listening;
}

} // namespace

// One accepted client: reads its request into a bounded buffer until EOF, then writes the
// reply and tells the server it is done (the server destroys it).
class ControlServer::Connection {
public:
  explicit Connection(ControlServer& server) : server_(server) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int accept(uv_loop_t* loop, uv_stream_t* listener) {
    if (int rc = pipe_.init([&](uv_pipe_t* p) { return uv_pipe_init(loop, p, 0); }); rc < 0)
      return rc;
    pipe_.set_data(this);
    if (int rc = uv_accept(listener, pipe_.stream()); rc < 0)
      return rc;
    return uv_read_start(
        pipe_.stream(),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* self = uvx::Handle<uv_pipe_t>::owner<Connection>(h);
          *buf = uv_buf_init(self->chunk_.data(), self->chunk_.size());
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
          uvx::Handle<uv_pipe_t>::owner<Connection>(s)->on_read(n);
        });
  }

private:
  void on_read(ssize_t n) {
    if (n == 0)
      return;
    if (n > 0) {
      if (request_.size() + static_cast<size_t>(n) > max_request_bytes) {
        answer(
            Reply::failure("request larger than " + std::to_string(max_request_bytes) + " bytes"));
        return;
      }
      request_.append(chunk_.data(), static_cast<size_t>(n));
      return;
    }
    if (n != UV_EOF) { // the client went away: nobody to answer
      server_.finished(this);
      return;
    }
    Reply reply;
    try {
      reply = server_.handler_(decode_request(request_));
    } catch (const std::exception& e) {
      reply = Reply::failure(e.what());
    }
    answer(reply);
  }

  void answer(const Reply& reply) {
    uv_read_stop(pipe_.stream());
    // If the connection is destroyed first (the server shuts down), the write detaches: its
    // callback (UV_ECANCELED) only frees it.
    int rc = write_.start<&Connection::on_written>(
        this,
        [&](uv_write_t* req, std::string& bytes, auto done) {
          uv_buf_t buf = uv_buf_init(bytes.data(), bytes.size());
          return uv_write(req, pipe_.stream(), &buf, 1, done);
        },
        [&](std::string& bytes) { bytes = encode_reply(reply); });
    if (rc < 0)
      server_.finished(this);
  }

  void on_written(int) { server_.finished(this); }

  ControlServer& server_;
  uvx::Handle<uv_pipe_t> pipe_;
  std::array<char, 16 * 1024> chunk_;
  std::string request_;
  uvx::Requests<uv_write_t, std::string> write_;
};

ControlServer::ControlServer(uv_loop_t* loop, std::string path, Handler handler)
    : loop_(loop), path_(std::move(path)), handler_(std::move(handler)) {
  if (path_.size() >= sizeof(sockaddr_un{}.sun_path))
    throw std::runtime_error("control socket path " + path_ + " is too long (at most " +
                             std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                             " bytes); choose a shorter --control or HAMBA_CONTROL");
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      throw std::runtime_error("control socket path " + path_ +
                               " exists and is not a socket; remove it or choose another "
                               "--control");
    if (someone_listens(path_))
      throw std::runtime_error("another hamba already answers on control socket " + path_ +
                               "; give this one its own --control or HAMBA_CONTROL");
    ::unlink(path_.c_str()); // left behind by a hamba that did not exit cleanly
  }
  uvx::check(listener_.init([&](uv_pipe_t* p) { return uv_pipe_init(loop_, p, 0); }),
             "control socket");
  listener_.set_data(this);
  // Created 0600 from the start (umask), not chmod-ed after a window where others could connect.
  mode_t old_mask = ::umask(0177);
  int rc = uv_pipe_bind(listener_.get(), path_.c_str());
  ::umask(old_mask);
  if (rc < 0)
    throw uvx::Error("control socket " + path_ + ": bind", rc);
  rc = uv_listen(listener_.stream(), 16, [](uv_stream_t* s, int status) {
    uvx::Handle<uv_pipe_t>::owner<ControlServer>(s)->on_connection(status);
  });
  if (rc < 0) {
    ::unlink(path_.c_str());
    throw uvx::Error("control socket " + path_ + ": listen", rc);
  }
}

ControlServer::~ControlServer() {
  listener_.close();
  connections_.clear();
  ::unlink(path_.c_str());
}

void ControlServer::on_connection(int status) {
  if (status < 0)
    return; // a failed accept concerns one client, which sees its connect fail
  auto connection = std::make_unique<Connection>(*this);
  if (connection->accept(loop_, listener_.stream()) < 0)
    return;
  // A client that never ends its request holds a connection: keep at most a few, the newest
  // (commands come one at a time; a pile-up means clients that went astray).
  if (connections_.size() >= max_connections)
    connections_.pop_front();
  connections_.push_back(std::move(connection));
}

void ControlServer::finished(Connection* connection) {
  // Destroying the Connection closes its pipe; libuv frees the handle later (uv_handle.h).
  connections_.remove_if([&](const auto& c) { return c.get() == connection; });
}

} // namespace hamba::control
