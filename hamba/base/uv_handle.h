// Small RAII owners for libuv handles, shared by hamba and the DockerCoins services.
//
// The rule they enforce (Envoy's deferred deletion, uvw's shape): a libuv handle's memory is
// freed only in its uv_close callback. A `Handle<T>` owns one heap-allocated handle; destroying
// the Handle (or calling close()) starts uv_close, and the memory goes when libuv says so. The
// owning C++ object may therefore be destroyed at any time without waiting for libuv; callbacks
// of a closing handle never fire again (libuv guarantees it), except the close callback, which
// only frees memory. Nothing else in the code calls uv_close.
//
//     Handle<uv_tcp_t> tcp;
//     if (int rc = tcp.init([&](uv_tcp_t* h) { return uv_tcp_init(loop, h); }); rc < 0) ...
//     tcp.set_data(this);              // callbacks translate handle->data back to the owner
//     ...
//     tcp.close();                     // idempotent; also done by the destructor
//
// `Timer` is the common case made short: a timer whose callback is a member function of its
// owner (`timer_.init(loop, this); timer_.start<&Owner::on_timeout>(ms);`).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <uv.h>

namespace uvx {

// "ECONNREFUSED (connection refused)": libuv's name and message, for logs and exceptions.
inline std::string error_text(int rc) {
  return std::string(uv_err_name(rc)) + " (" + uv_strerror(rc) + ")";
}

// A libuv call failed; what() names the operation and libuv's error.
class Error : public std::runtime_error {
public:
  Error(const std::string& what, int rc)
      : std::runtime_error(what + ": " + error_text(rc)), code(rc) {}
  int code;
};

// Throws Error when rc < 0; returns rc otherwise. For set-up calls where failing is fatal.
inline int check(int rc, const char* what) {
  if (rc < 0)
    throw Error(what, rc);
  return rc;
}

// Owns one libuv handle of type T (uv_tcp_t, uv_timer_t, uv_signal_t, uv_pipe_t, ...).
template <typename T> class Handle {
public:
  Handle() : handle_(new T{}) {}
  ~Handle() { close(); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)),
        initialized_(std::exchange(other.initialized_, false)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      close();
      handle_ = std::exchange(other.handle_, nullptr);
      initialized_ = std::exchange(other.initialized_, false);
    }
    return *this;
  }

  // Runs the uv_*_init call `f(T*)`; the handle counts as live (closed through uv_close) only
  // when it returns 0. Returns what f returned.
  template <typename F> int init(F&& f) {
    if (!handle_)
      handle_ = new T{};
    int rc = std::forward<F>(f)(handle_);
    initialized_ = rc == 0;
    return rc;
  }

  T* get() const { return handle_; }
  uv_handle_t* base() const { return reinterpret_cast<uv_handle_t*>(handle_); }
  uv_stream_t* stream() const { return reinterpret_cast<uv_stream_t*>(handle_); }
  explicit operator bool() const { return handle_ != nullptr && initialized_; }

  void set_data(void* owner) {
    if (handle_)
      handle_->data = owner;
  }
  // The owner stored with set_data, for use inside callbacks.
  template <typename Owner> static Owner* owner(const void* raw_handle) {
    return static_cast<Owner*>(static_cast<const uv_handle_t*>(raw_handle)->data);
  }

  // Starts uv_close (or frees an uninitialised handle at once). Idempotent.
  void close() {
    if (!handle_)
      return;
    T* h = std::exchange(handle_, nullptr);
    if (std::exchange(initialized_, false)) {
      h->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(h),
               [](uv_handle_t* closed) { delete reinterpret_cast<T*>(closed); });
    } else {
      delete h;
    }
  }

private:
  T* handle_;
  bool initialized_ = false;
};

namespace detail {
template <typename> struct MemberOf;
template <typename C> struct MemberOf<void (C::*)()> { using type = C; };
template <typename C> struct MemberOf<void (C::*)() noexcept> { using type = C; };
} // namespace detail

// A uv timer calling `owner->Member()`. The libuv callback is one plain function per Member,
// made at compile time: nothing is allocated per start or per tick. Once closed (or destroyed)
// it never calls again; an owner destroyed first must close it (as a member, it does).
//
//     uvx::Timer timer_;                      // a member of Owner
//     timer_.init(loop, this);                // throws uvx::Error
//     timer_.start<&Owner::on_timer>(100);    // once after 100 ms; (100, 100): every 100 ms
class Timer {
public:
  template <typename Owner> void init(uv_loop_t* loop, Owner* owner) {
    check(handle_.init([&](uv_timer_t* t) { return uv_timer_init(loop, t); }), "uv_timer_init");
    handle_.set_data(owner);
  }
  // Starts (or restarts) the timer. Member: a `void Owner::f()` of the object given to init().
  template <auto Member> void start(std::uint64_t ms, std::uint64_t repeat = 0) {
    using Owner = typename detail::MemberOf<decltype(Member)>::type;
    uv_timer_start(
        handle_.get(),
        [](uv_timer_t* t) {
          if (auto* owner = Handle<uv_timer_t>::owner<Owner>(t))
            (owner->*Member)();
        },
        ms, repeat);
  }
  void stop() {
    if (handle_)
      uv_timer_stop(handle_.get());
  }
  // The timer alone does not keep the loop running.
  void unref() {
    if (handle_)
      uv_unref(handle_.base());
  }
  void close() { handle_.close(); }
  explicit operator bool() const { return static_cast<bool>(handle_); }

private:
  Handle<uv_timer_t> handle_;
};

} // namespace uvx
