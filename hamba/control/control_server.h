// The control socket inside `hamba run`: a unix socket (mode 0600) that accepts one request per
// connection (format in protocol.h) and answers with what the handler returns.
//
//     control::ControlServer server(loop, control::socket_path(flag), [&](const Request& r) {
//       return r.command == "showconfig" ? Reply::success({}, to_yaml(cfg)) : Reply::failure("?");
//     });
//
// The server owns the socket file: it refuses to start when another live hamba answers on the
// path, replaces a stale file left by a crashed one, and removes the file when destroyed. The
// handler runs on the loop thread and must not block.
#pragma once

#include "base/uv_handle.h"
#include "control/protocol.h"

#include <functional>
#include <list>
#include <memory>
#include <string>

namespace hamba::control {

using Handler = std::function<Reply(const Request&)>;

class ControlServer {
public:
  // Binds and listens at once; throws std::runtime_error naming the path on failure.
  ControlServer(uv_loop_t* loop, std::string path, Handler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& path() const { return path_; }

  // Connections kept at once; the oldest is closed to make room.
  static constexpr size_t max_connections = 16;

private:
  class Connection;
  void on_connection(int status);
  void finished(Connection* connection);

  uv_loop_t* loop_;
  std::string path_;
  Handler handler_;
  uvx::Handle<uv_pipe_t> listener_;
  std::list<std::unique_ptr<Connection>> connections_;
};

} // namespace hamba::control
