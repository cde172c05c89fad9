// An intrusive doubly linked list: the element carries its own links (a ListLink member), so
// joining and leaving a list allocate nothing, and leaving is O(1) without knowing the list.
//
//     struct Job { base::ListLink link; ... };
//     base::IntrusiveList<Job, &Job::link> jobs;
//     jobs.push_back(job);          // job must be in no list by that link
//     job.link.unlink();            // from whatever list holds it; harmless when in none
//     while (Job* j = jobs.pop_front()) ...
//
// The list is circular around a sentinel, so unlink() needs no head pointer. The list does not
// own its elements; an element must leave (or the list be emptied) before either is destroyed,
// which ListLink's destructor does for it. Not thread-safe: one loop owns each list.
#pragma once

#include <cassert>
#include <cstddef>

namespace hamba::base {

class ListLink {
public:
  ListLink() = default;
  ~ListLink() { unlink(); }
  ListLink(const ListLink&) = delete;
  ListLink& operator=(const ListLink&) = delete;

  bool linked() const { return next_ != nullptr; }
  void unlink() {
    if (!next_)
      return;
    prev_->next_ = next_;
    next_->prev_ = prev_;
    prev_ = next_ = nullptr;
  }

private:
  template <typename T, ListLink T::*> friend class IntrusiveList;
  void insert_before(ListLink& at, void* item) {
    assert(!linked());
    item_ = item;
    prev_ = at.prev_;
    next_ = &at;
    at.prev_->next_ = this;
    at.prev_ = this;
  }
  ListLink* prev_ = nullptr;
  ListLink* next_ = nullptr;
  void* item_ = nullptr; // the element this link is a member of
};

template <typename T, ListLink T::*Link> class IntrusiveList {
public:
  IntrusiveList() { head_.prev_ = head_.next_ = &head_; }
  ~IntrusiveList() { clear(); }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_.next_ == &head_; }
  void push_back(T& item) { (item.*Link).insert_before(head_, &item); }
  void push_front(T& item) { (item.*Link).insert_before(*head_.next_, &item); }
  T* front() const { return empty() ? nullptr : owner(head_.next_); }
  T* pop_front() {
    T* item = front();
    if (item)
      (item->*Link).unlink();
    return item;
  }
  // The element after `item` in this list, or nullptr at the end.
  T* next(const T& item) const {
    const ListLink* n = (item.*Link).next_;
    return n == &head_ ? nullptr : owner(n);
  }
  // Moves every element of `other` to the back of this list, in order; O(1).
  void splice_back(IntrusiveList& other) {
    if (other.empty())
      return;
    ListLink* first = other.head_.next_;
    ListLink* last = other.head_.prev_;
    other.head_.prev_ = other.head_.next_ = &other.head_;
    first->prev_ = head_.prev_;
    head_.prev_->next_ = first;
    last->next_ = &head_;
    head_.prev_ = last;
  }
  void clear() {
    while (pop_front()) {
    }
  }
  size_t size() const {
    size_t n = 0;
    for (const ListLink* l = head_.next_; l != &head_; l = l->next_)
      ++n;
    return n;
  }

private:
  static T* owner(const ListLink* link) { return static_cast<T*>(link->item_); }
  ListLink head_;
};

} // namespace hamba::base
