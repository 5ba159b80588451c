#pragma once
// Per-connection application state, allocated on demand in blocks and
// recycled through a free list: addresses stay stable (Connection::user
// points at them), memory follows the peak number of connections rather
// than a guess made at start-up, and the most in use at once is the
// application's own limit (or none: then the engine's TCB pool, [tcp]
// max_connections, is the limit, since a connection needs a TCB first).
//
// take() fails (null) at the limit or when memory runs out: the caller
// refuses the connection and counts it, never throws on the data path.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <vector>

namespace tern::apps {

template <class T, std::size_t kBlock = 64>
class SlotPool {
 public:
  static constexpr std::uint32_t kUnlimited = std::numeric_limits<std::uint32_t>::max();

  explicit SlotPool(std::uint32_t limit = kUnlimited) noexcept : limit_(limit) {}
  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;

  // An element as give_back() left it (default-constructed the first
  // time): the caller resets what it needs. Null at the limit or without
  // memory for another block.
  T* take() noexcept {
    if (in_use_ >= limit_) return nullptr;
    if (free_.empty() && !grow()) return nullptr;
    T* e = free_.back();
    free_.pop_back();
    ++in_use_;
    return e;
  }

  // Never allocates: the free list's capacity covers every element.
  void give_back(T* e) noexcept {
    free_.push_back(e);
    --in_use_;
  }

  std::uint32_t in_use() const noexcept { return in_use_; }
  std::uint32_t limit() const noexcept { return limit_; }
  std::size_t allocated() const noexcept { return blocks_.size() * kBlock; }

  // Every element ever allocated, in use or not (for clean-up at exit).
  template <class F>
  void for_each_allocated(F&& f) {
    for (auto& b : blocks_)
      for (std::size_t i = 0; i < kBlock; ++i) f(b[i]);
  }

 private:
  bool grow() noexcept {
    try {
      blocks_.reserve(blocks_.size() + 1);
      free_.reserve(allocated() + kBlock);
      blocks_.push_back(std::make_unique<T[]>(kBlock));
    } catch (const std::bad_alloc&) {
      return false;
    }
    T* b = blocks_.back().get();
    for (std::size_t i = kBlock; i-- > 0;) free_.push_back(&b[i]);  // b[0] is taken first
    return true;
  }

  std::uint32_t limit_;
  std::uint32_t in_use_ = 0;
  std::vector<std::unique_ptr<T[]>> blocks_;
  std::vector<T*> free_;
};

}  // namespace tern::apps
