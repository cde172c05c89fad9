// The owner of an object's libuv requests (uv_connect_t, uv_write_t, uv_shutdown_t,
// uv_getaddrinfo_t, uv_work_t), in uvw's reserve() shape.
//
// A libuv request must stay in memory until libuv calls its callback, which it always does,
// even after the handle was closed or the request cancelled; the object that asked may be gone
// by then. So each request lives on its own, with the data its callback (or libuv) still
// needs, and its owner keeps a `Requests` member that knows the ones in flight. When the
// callback comes, the owner's member function runs; an owner that went away first, or no
// longer wants the answer, has detached: the late callback only frees the request.
//
//     uvx::Requests<uv_connect_t> connect_;               // a member of Session
//     int rc = connect_.start<&Session::on_connected>(this, [&](uv_connect_t* req, auto done) {
//       return uv_tcp_connect(req, tcp, address, done);   // libuv's callback is `done`
//     });
//     ...
//     void Session::on_connected(int status);             // unless detached (or destroyed)
//
// Data travels with each request and lives until its callback: the bytes of a write (fill them
// with start()'s `fill`), the input and output of a thread-pool job. The member gets
// it first when it takes it: `void on_written(Bytes& sent, int status)`. getaddrinfo's result
// is the member's to read during the call and freed afterwards. Requests' memory is reused
// (a few per type and thread are kept), so a steady stream of writes allocates nothing.
//
// Everything runs on the loop's thread, except a work job's run(), on a pool thread, which
// touches only its Data.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>
#include <uv.h>

namespace uvx {

struct NoData {};

namespace detail {
template <typename> struct MemberOwner;
template <typename C, typename... A> struct MemberOwner<void (C::*)(A...)> { using type = C; };
template <typename C, typename... A> struct MemberOwner<void (C::*)(A...) noexcept> {
  using type = C;
};

// libuv's completion callback type for each request type.
template <typename T> struct Completion;
template <> struct Completion<uv_connect_t> { using type = uv_connect_cb; };
template <> struct Completion<uv_write_t> { using type = uv_write_cb; };
template <> struct Completion<uv_shutdown_t> { using type = uv_shutdown_cb; };
template <> struct Completion<uv_getaddrinfo_t> { using type = uv_getaddrinfo_cb; };
template <> struct Completion<uv_work_t> { using type = uv_after_work_cb; };
} // namespace detail

// Does nothing to a request's Data: start()'s default `fill`.
struct KeepData {
  template <typename D> void operator()(D&) const {}
};

template <typename T, typename Data = NoData> class Requests {
public:
  Requests() = default;
  ~Requests() { detach(); }
  Requests(const Requests&) = delete;
  Requests& operator=(const Requests&) = delete;

  // Some are in flight (started, not called back yet, not detached).
  bool pending() const { return head_ != nullptr; }
  std::size_t count() const {
    std::size_t n = 0;
    for (Block* b = head_; b; b = b->next)
      ++n;
    return n;
  }

  // Starts a request: `fill(Data&)` writes what travels with it (default-constructed before),
  // then `submit(T* req, done)` (or `submit(req, data, done)`, to read the Data, such as the
  // bytes to write) makes the uv_* call with `done` as its callback and returns its result. When
  // libuv calls back, `(owner->*Member)(...)` runs with the callback's arguments (after the
  // request's Data when Member takes it), unless detached by then. Returns submit's result; on
  // failure nothing is in flight and Member never runs. For uv_work_t, submit gets the work
  // function too, `submit(req, work, done)`: work calls Data::run() on a pool thread.
  template <auto Member, typename Submit, typename Fill = KeepData>
  int start(typename detail::MemberOwner<decltype(Member)>::type* owner, Submit&& submit,
            Fill&& fill = {}) {
    using Owner = typename detail::MemberOwner<decltype(Member)>::type;
    constexpr auto completion = typename detail::Completion<T>::type{};
    Block* b = Block::acquire();
    std::forward<Fill>(fill)(b->data);
    b->req.data = b;
    auto done = Block::template done<Owner, Member>(completion);
    int rc;
    if constexpr (std::is_same_v<T, uv_work_t>)
      rc = std::forward<Submit>(submit)(&b->req, &Block::run, done);
    else if constexpr (std::is_invocable_v<Submit, T*, Data&, decltype(done)>)
      rc = std::forward<Submit>(submit)(&b->req, b->data, done);
    else
      rc = std::forward<Submit>(submit)(&b->req, done);
    if (rc < 0) {
      Block::release(b);
      return rc;
    }
    b->owner = owner;
    b->link = this;
    b->next = head_;
    if (head_)
      head_->prev = b;
    head_ = b;
    return rc;
  }

  // The owner no longer wants the answers: the callbacks, which still come, only free the
  // requests.
  void detach() {
    for (Block* b = std::exchange(head_, nullptr); b; b = b->next)
      b->link = nullptr;
  }

  // Detaches, and asks libuv to cancel what has not started yet (getaddrinfo and work items
  // still queued for the thread pool; other requests end when their handle closes). The
  // callbacks still come, with UV_ECANCELED, and only free the requests.
  void cancel() {
    for (Block* b = head_; b; b = b->next)
      uv_cancel(reinterpret_cast<uv_req_t*>(&b->req));
    detach();
  }

private:
  struct Block {
    T req{};
    Requests* link = nullptr; // the owner's Requests, nullptr once detached
    void* owner = nullptr;
    Block* prev = nullptr; // the owner's list of requests in flight
    Block* next = nullptr;
    Data data;

    // Freed blocks kept for reuse, per type and thread.
    static constexpr std::size_t kKept = 64;
    struct FreeList {
      void* items[kKept];
      std::size_t count = 0;
      ~FreeList() {
        while (count)
          ::operator delete(items[--count]);
      }
    };
    static FreeList& free_list() {
      static thread_local FreeList list;
      return list;
    }
    static Block* acquire() {
      FreeList& f = free_list();
      void* raw = f.count ? f.items[--f.count] : ::operator new(sizeof(Block));
      return new (raw) Block;
    }
    static void release(Block* b) {
      b->~Block();
      FreeList& f = free_list();
      if (f.count < kKept)
        f.items[f.count++] = b;
      else
        ::operator delete(b);
    }

    static void run(uv_work_t* req) { static_cast<Block*>(req->data)->data.run(); }

    template <typename Owner, auto Member, typename... Args>
    static void call(T* req, Args... args) {
      auto* b = static_cast<Block*>(req->data);
      // Unlinked first: the member may start another request, or destroy its owner.
      if (Requests* r = std::exchange(b->link, nullptr)) {
        (b->prev ? b->prev->next : r->head_) = b->next;
        if (b->next)
          b->next->prev = b->prev;
        auto* owner = static_cast<Owner*>(b->owner);
        if constexpr (std::is_invocable_v<decltype(Member), Owner*, Data&, Args...>)
          (owner->*Member)(b->data, args...);
        else
          (owner->*Member)(args...);
      }
      (free_result(args), ...); // getaddrinfo's answer was the member's to read, not to keep
      release(b);
    }
    static void free_result(int) {}
    static void free_result(addrinfo* result) { uv_freeaddrinfo(result); }

    // libuv's callback for Member, with the signature libuv wants for T (deduced from the
    // function pointer type; its value is not used).
    template <typename Owner, auto Member, typename... Args>
    static auto done(void (*)(T*, Args...)) -> void (*)(T*, Args...) {
      return &call<Owner, Member, Args...>;
    }
  };

  Block* head_ = nullptr;
};

} // namespace uvx
