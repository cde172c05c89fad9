// Bytes both ways between two transports; see relay.h.
#include "net/relay.h"

namespace hamba::net {

bool Relay::start(bool client_eof) {
  client_.set_handler(this);
  server_->set_handler(this);
  // The server is read from its connect on (one poller registration for both).
  if (server_->start_reading() < 0) {
    end(RelayEnd::server_reset);
    return false;
  }
  if (client_eof) {
    eof(Direction::to_server);
    return !ended_;
  }
  if (server_->above_high()) {
    way(Direction::to_server).paused = true; // on_drained starts the client's reads
    client_.stop_reading();                  // it may be reading already (the header's wait)
    return true;
  }
  if (client_.start_reading() < 0)
    end(RelayEnd::client_reset);
  return !ended_;
}

void Relay::on_read(Transport& from, const char* data, size_t len) {
  const Direction d = from_side(from);
  Transport& to = destination(d);
  owner_.on_relay_activity(d, len);
  uv_buf_t buf = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
  // The source's EOF comes next (on_eof, then the shutdown in eof()): the bytes may wait for
  // that shutdown's FIN, so both leave in one segment.
  const int rc = from.eof_follows() ? to.write_last(&buf, 1) : to.write(&buf, 1);
  if (rc < 0) {
    end(blame(other(d))); // the destination is gone (reset, EPIPE)
    return;
  }
  if (to.above_high()) {
    way(d).paused = true;
    from.stop_reading();
  }
}

void Relay::on_drained(Transport& to) {
  const Direction d = other(from_side(to)); // the direction that writes into `to`
  owner_.on_relay_activity(d, 0);
  Way& w = way(d);
  if (!w.paused)
    return;
  w.paused = false;
  if (w.eof) {
    eof(d); // the EOF waited for the queue
    return;
  }
  if (source(d).start_reading() < 0)
    end(blame(d));
}

void Relay::on_eof(Transport& from) {
  eof(from_side(from));
}

void Relay::eof(Direction d) {
  Way& w = way(d);
  w.eof = true;
  source(d).stop_reading();
  Transport& to = destination(d);
  const Way& o = way(other(d));
  // Both sides have sent EOF and everything read is written: closing sends the FINs itself
  // (both receive queues are empty), so shutdowns first would only cost system calls.
  if (to.queued() == 0 && (o.shut || (o.eof && source(d).queued() == 0))) {
    end(RelayEnd::closed);
    return;
  }
  int rc = to.shutdown_write();
  if (rc < 0)
    end(blame(other(d)));
  else if (rc == 1)
    shut(d);
  // 0: on_shut (or on_error) follows once the queue is written.
}

void Relay::on_shut(Transport& to) {
  shut(other(from_side(to)));
}

void Relay::shut(Direction d) {
  way(d).shut = true;
  if (way(Direction::to_server).shut && way(Direction::to_client).shut)
    end(RelayEnd::closed);
}

void Relay::on_error(Transport& from, int) {
  end(blame(from_side(from)));
}

void Relay::end(RelayEnd how) {
  if (ended_)
    return;
  ended_ = true;
  owner_.on_relay_end(how);
}

} // namespace hamba::net
