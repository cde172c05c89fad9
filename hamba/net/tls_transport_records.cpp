// The TLS transport once hamba keeps the record layer (net/tls_records.h; the switch from
// OpenSSL is tls_transport_session.cpp's): reading (records opened in place, at most one partial
// record held), post-handshake messages and alerts, and writing. See tls_transport.h.
#include "base/check.h"
#include "net/read_buffer.h"
#include "net/tls_transport.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

namespace hamba::net {

namespace {

std::atomic<uint64_t> record_errors{0};

// What one write seals before it goes to the lower transport: up to 4 full records, so a
// 64 KiB write is one lower write. Per thread, as the loop's read buffer.
constexpr size_t kSealRoom = 4 * (kTlsMaxPlaintext + kTlsSealOverhead);
uint8_t* seal_buffer() {
  thread_local std::unique_ptr<uint8_t[]> buffer(new uint8_t[kSealRoom]);
  return buffer.get();
}

// The most held at once: what a stopped reader left of one read, and a record's plaintext
// (the lower transport is not read while anything but a partial record is held).
constexpr size_t kHeldMax = kBufferSize + kTlsMaxRecord;

constexpr uint8_t kKeyUpdate = 24;
constexpr uint8_t kClientHello = 1;

} // namespace

uint64_t tls_record_errors() {
  return record_errors.load(std::memory_order_relaxed);
}

// --- holding what is not delivered yet ---

void TlsTransport::release_held() {
  held_.reset();
  held_len_ = held_cap_ = held_plain_ = 0;
}

bool TlsTransport::reserve(size_t need) {
  if (need > kHeldMax)
    return false;
  if (need <= held_cap_)
    return true;
  // Room for a whole record at once, so a record's later bytes do not allocate again.
  size_t cap = std::max(need, held_plain_ + kTlsMaxRecord);
  std::unique_ptr<uint8_t[]> bigger(new (std::nothrow) uint8_t[cap]);
  if (!bigger)
    return false;
  if (held_len_ > 0)
    std::memcpy(bigger.get(), held_.get(), held_len_);
  held_ = std::move(bigger);
  held_cap_ = static_cast<uint32_t>(cap);
  return true;
}

bool TlsTransport::hold(const uint8_t* data, size_t len) {
  if (len == 0)
    return true;
  if (!reserve(held_len_ + len))
    return false;
  std::memcpy(held_.get() + held_len_, data, len);
  held_len_ += static_cast<uint32_t>(len);
  return true;
}

bool TlsTransport::keep(uint8_t* buf, size_t len, size_t pos, const uint8_t* plain,
                        size_t plain_len) {
  if (peer_closed_)
    pos = len; // nothing after a close_notify is read
  if (buf == held_.get()) {
    // Plaintext first, then the ciphertext after it (which lies further on: no overlap).
    std::memmove(held_.get(), plain, plain_len);
    std::memmove(held_.get() + plain_len, buf + pos, len - pos);
    held_plain_ = static_cast<uint32_t>(plain_len);
    held_len_ = static_cast<uint32_t>(plain_len + len - pos);
    if (held_len_ == 0)
      release_held(); // drained: an idle connection holds no buffer
    return true;
  }
  HAMBA_CHECK(held_len_ == 0);
  if (!hold(plain, plain_len) || !hold(buf + pos, len - pos))
    return false;
  held_plain_ = static_cast<uint32_t>(plain_len);
  return true;
}

// --- reading ---

void TlsTransport::fail_records(const char* text, int error) {
  failure_text_ = text;
  record_refused_ = error == UV_EPROTO;
  if (record_refused_) {
    record_errors.fetch_add(1, std::memory_order_relaxed);
    // One line a second at most, per thread, however many clients send garbage.
    thread_local uint64_t last_ms = 0, quiet = 0;
    uint64_t now = uv_now(loop_);
    if (last_ms == 0 || now - last_ms >= 1000) {
      std::fprintf(stderr, "hamba: a TLS client's record refused (%s); connection reset%s\n", text,
                   quiet ? " (and others not logged)" : "");
      last_ms = now, quiet = 0;
    } else {
      ++quiet;
    }
  }
  want_ = Want::none;
  lower_.stop_reading();
  handler_->on_error(*this, error);
}

bool TlsTransport::on_post_handshake(const uint8_t* msg, size_t len) {
  if (!records_->tls13()) {
    // TLS 1.2: a ClientHello asks for renegotiation, which is off: refused with a warning, as
    // OpenSSL does (RFC 5746 §4.4); anything else is unexpected.
    static const uint8_t no_renegotiation[] = {1, 100};
    return len >= 4 && msg[0] == kClientHello &&
           write_records(kTlsAlert, no_renegotiation, sizeof no_renegotiation) == 0;
  }
  // TLS 1.3: only KeyUpdate is expected from a client (no post-handshake authentication was
  // asked, and tickets go the other way). It ends its record (§5.1).
  if (len != 5 || msg[0] != kKeyUpdate || msg[1] != 0 || msg[2] != 0 || msg[3] != 1 || msg[4] > 1)
    return false;
  if (!records_->update_read_key())
    return false;
  if (msg[4] == 1) { // update_requested: ours under the old key, then the new one (§4.6.3)
    static const uint8_t key_update[] = {kKeyUpdate, 0, 0, 1, 0};
    if (write_records(kTlsHandshake, key_update, sizeof key_update) < 0 ||
        !records_->update_write_key())
      return false;
  }
  return true;
}

TlsTransport::Step TlsTransport::open_next(uint8_t* buf, size_t len, size_t& pos, uint8_t** plain,
                                           size_t* plain_len) {
  long size = records_->record_size(buf + pos, len - pos);
  if (size < 0) {
    failure_text_ = "not a TLS record of this session";
    return Step::error;
  }
  if (size == 0 || static_cast<size_t>(size) > len - pos)
    return Step::need_more;
  TlsRecords::Opened o;
  if (!records_->open(buf + pos, static_cast<size_t>(size), &o)) {
    failure_text_ = "a record did not authenticate (bad record MAC)";
    return Step::error;
  }
  pos += static_cast<size_t>(size);
  switch (o.type) {
  case kTlsApplicationData:
    *plain = o.data;
    *plain_len = o.len;
    return Step::plain;
  case kTlsAlert:
    if (o.len == 2 && o.data[1] == 0) { // close_notify
      peer_closed_ = true;
      return Step::eof;
    }
    failure_text_ = "the client sent an alert";
    return Step::error;
  case kTlsHandshake:
    if (on_post_handshake(o.data, o.len))
      return Step::more;
    failure_text_ = "an unexpected handshake message";
    return Step::error;
  default:
    failure_text_ = "an unexpected record";
    return Step::error;
  }
}

bool TlsTransport::drain(uint8_t* buf, size_t len, size_t& pos, uint8_t*& plain, size_t& plain_len,
                         Step& last) {
  last = Step::need_more;
  while (want_ == Want::loop_buffer || want_ == Want::span) {
    if (plain_len == 0) {
      if (peer_closed_) {
        last = Step::eof;
        return true;
      }
      last = open_next(buf, len, pos, &plain, &plain_len);
      if (last == Step::plain || last == Step::more)
        continue;
      if (last == Step::error) {
        fail_records(failure_text_, UV_EPROTO);
        return false;
      }
      return true; // need_more, eof
    }
    size_t n = plain_len;
    const char* to = reinterpret_cast<const char*>(plain);
    if (want_ == Want::span) {
      n = std::min(n, room_);
      std::memcpy(into_, plain, n);
      to = into_;
      want_ = Want::span_used; // the handler gives the next span, or reads otherwise
    }
    plain += n;
    plain_len -= n;
    counters.bytes_read += n;
    handler_->on_read(*this, to, n);
    if (!records_)
      return false; // closed by the handler
    if (want_ == Want::span_used) {
      want_ = Want::none; // its buffer is full: it waits
      lower_.stop_reading();
    }
  }
  last = Step::more;
  return true;
}

void TlsTransport::deliver_records(const char* data, size_t len) {
  heard_ = true;
  auto* in = reinterpret_cast<const uint8_t*>(data);
  uint8_t* plain = nullptr;
  size_t plain_len = 0;
  Step last = Step::need_more;
  if (held_len_ > 0) {
    // What is held goes first; a partial record is topped up from this read, only as far as
    // it needs (the rest is opened in place below).
    while (len > 0) {
      size_t have = held_len_ - held_plain_;
      long size = records_->record_size(held_.get() + held_plain_, have);
      if (size < 0)
        break; // open_next says so
      if (size > 0 && static_cast<size_t>(size) <= have)
        break; // a whole record: open it
      size_t want = size == 0 ? kTlsHeader - have : static_cast<size_t>(size) - have;
      size_t take = std::min(want, len);
      if (!hold(in, take)) {
        fail_records("out of memory", UV_ENOMEM);
        return;
      }
      in += take, len -= take;
    }
    size_t pos = held_plain_;
    plain = held_.get();
    plain_len = held_plain_;
    uint8_t* buf = held_.get();
    if (!drain(buf, held_len_, pos, plain, plain_len, last))
      return;
    if (!keep(buf, held_len_, pos, plain, plain_len)) {
      fail_records("out of memory", UV_ENOMEM);
      return;
    }
    if (held_len_ > 0 && len > 0) { // the reader stopped: the rest of this read waits after it
      if (!hold(in, len)) {
        fail_records("out of memory", UV_ENOMEM);
        return;
      }
      len = 0;
    }
  }
  if (len > 0) {
    // Opened in place: `data` is the loop's read buffer (net/read_buffer.h), this call's own.
    auto* buf = const_cast<uint8_t*>(in);
    size_t pos = 0;
    plain_len = 0;
    if (!drain(buf, len, pos, plain, plain_len, last))
      return;
    if (!keep(buf, len, pos, plain, plain_len)) {
      fail_records("out of memory", UV_ENOMEM);
      return;
    }
  }
  bool reading = want_ == Want::loop_buffer || want_ == Want::span;
  if (reading && !lower_eof_ && !peer_closed_ && lower_.start_reading() < 0) {
    // (start_reading() waits for what is held to drain: the lower transport reads from here)
    fail_records("the connection failed", UV_EPIPE);
    return;
  }
  // The client's close_notify, or its FIN without one (many clients end this way, so it is an
  // EOF as TCP's, a partial record left unread as OpenSSL leaves it).
  if (reading && held_plain_ == 0 && (peer_closed_ || (lower_eof_ && last == Step::need_more))) {
    want_ = Want::none;
    lower_.stop_reading();
    if (!eof_told_) {
      eof_told_ = true;
      handler_->on_eof(*this);
    }
  }
}

ssize_t TlsTransport::read_now_records(char* into, size_t size) {
  for (int round = 0; round < 2; ++round) {
    // Open what is held until plaintext comes; `into` may be the loop's buffer, so it all
    // happens in held_.
    while (held_plain_ == 0 && held_len_ > 0 && !peer_closed_) {
      uint8_t* plain = nullptr;
      size_t plain_len = 0, pos = 0;
      Step s = open_next(held_.get(), held_len_, pos, &plain, &plain_len);
      if (s == Step::error)
        return UV_EPROTO;
      if (s == Step::need_more)
        break;
      if (!keep(held_.get(), held_len_, pos, plain, plain_len))
        return UV_ENOMEM;
    }
    if (held_plain_ > 0) {
      size_t n = std::min(size, size_t(held_plain_));
      std::memcpy(into, held_.get(), n);
      keep(held_.get(), held_len_, held_plain_, held_.get() + n, held_plain_ - n);
      counters.bytes_read += n;
      return static_cast<ssize_t>(n);
    }
    if (peer_closed_ || lower_eof_)
      return 0;
    if (round == 1)
      break;
    // Nothing opened yet: what the kernel holds, straight into held_, then once more.
    if (!reserve(held_len_ + kTlsMaxRecord))
      return UV_ENOMEM;
    ssize_t got =
        lower_.read_now(reinterpret_cast<char*>(held_.get() + held_len_), held_cap_ - held_len_);
    if (got <= 0) {
      if (held_len_ == 0)
        release_held();
      lower_eof_ = lower_eof_ || got == 0;
      return got;
    }
    held_len_ += static_cast<uint32_t>(got);
  }
  return UV_EAGAIN;
}

// --- writing ---

int TlsTransport::write_records(uint8_t type, const uint8_t* data, size_t len) {
  uint8_t* out = seal_buffer();
  size_t used = 0;
  do {
    size_t n = std::min(len, kTlsMaxPlaintext);
    size_t sealed = records_->seal(type, data, n, out + used);
    if (sealed == 0)
      return UV_EPROTO;
    used += sealed, data += n, len -= n;
    if (used + kTlsMaxPlaintext + kTlsSealOverhead > kSealRoom || len == 0) {
      uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(out), static_cast<unsigned>(used));
      if (int rc = lower_.write(&buf, 1); rc < 0)
        return rc;
      used = 0;
    }
  } while (len > 0);
  return 0;
}

int TlsTransport::write_records(const uv_buf_t* bufs, unsigned count) {
  if (close_sent_)
    return UV_EPIPE;
  for (unsigned i = 0; i < count; ++i) {
    if (bufs[i].len == 0)
      continue;
    if (int rc = write_records(kTlsApplicationData, reinterpret_cast<const uint8_t*>(bufs[i].base),
                               bufs[i].len);
        rc < 0)
      return rc;
    counters.bytes_written += bufs[i].len;
  }
  return 0;
}

} // namespace hamba::net
