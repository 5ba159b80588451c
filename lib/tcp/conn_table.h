#pragma once
// Per-worker connection table and TCB pool (DESIGN.md "TCP engine":
// "Connection table keyed by the 4-tuple (Abseil hash map), TCBs from a
// bounded per-worker pool (limit in the config, refusal counted)").
//
// Both are sized once, at construction, from the configured connection limit,
// and never allocate afterwards: the packet path (lookup on every segment,
// insert on every accepted SYN, erase on every close) stays allocation-free.
// Neither counts refusals: the caller owns the counters (one per drop reason).
//
// Single-threaded, like everything a worker owns.
#include <absl/container/flat_hash_map.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

#include "base/check.h"
#include "tcp/time_wait.h"  // FourTuple, hash_four_tuple

namespace tern {

// A fixed-capacity pool of T. Storage for `capacity` objects is allocated in
// the constructor; acquire() constructs a T in a free slot (placement new) and
// release() destroys it and returns the slot. Both are O(1): the free slots are
// a stack of indices, so the most recently released (cache-warm) slot is
// reused first.
template <class T>
class ObjectPool {
 public:
  explicit ObjectPool(std::uint32_t capacity)
      : capacity_(capacity),
        slots_(new Slot[capacity]),
        free_(new std::uint32_t[capacity]),
        live_(new bool[capacity]()),
        nfree_(capacity) {
    // Lowest index on top of the stack: first acquisitions walk memory forward.
    for (std::uint32_t i = 0; i < capacity; ++i) free_[i] = capacity - 1 - i;
  }
  ObjectPool(const ObjectPool&) = delete;
  ObjectPool& operator=(const ObjectPool&) = delete;

  // Destroys the objects still in use.
  ~ObjectPool() {
    for (std::uint32_t i = 0; i < capacity_; ++i) {
      if (live_[i]) std::launder(reinterpret_cast<T*>(slots_[i].bytes))->~T();
    }
  }

  // A new T built from `args`, or nullptr when all `capacity` are in use (the
  // caller counts the refusal). If T's constructor throws, the pool is unchanged.
  template <class... Args>
  T* acquire(Args&&... args) {
    if (nfree_ == 0) return nullptr;
    const std::uint32_t i = free_[nfree_ - 1];
    T* p = ::new (static_cast<void*>(slots_[i].bytes)) T(std::forward<Args>(args)...);
    --nfree_;
    live_[i] = true;
    return p;
  }

  // Destroys *p and frees its slot. p must come from this pool's acquire() and
  // not have been released since: a foreign pointer or a double release is an
  // invariant violation (abort in debug; counted, logged and ignored in release).
  void release(T* p) noexcept {
    const std::uint32_t i = index_of(p);
    TERN_CHECK(i < capacity_ && live_[i]);
    if (i >= capacity_ || !live_[i]) return;
    p->~T();
    live_[i] = false;
    free_[nfree_++] = i;
  }

  std::uint32_t in_use() const noexcept { return capacity_ - nfree_; }
  std::uint32_t capacity() const noexcept { return capacity_; }

 private:
  struct Slot {
    alignas(T) std::byte bytes[sizeof(T)];
  };

  // The slot holding p, or capacity_ if p is not the start of one of ours.
  std::uint32_t index_of(const T* p) const noexcept {
    const auto base = reinterpret_cast<std::uintptr_t>(slots_.get());
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    if (addr < base) return capacity_;
    const std::uintptr_t off = addr - base;
    if (off % sizeof(Slot) != 0 || off / sizeof(Slot) >= capacity_) return capacity_;
    return static_cast<std::uint32_t>(off / sizeof(Slot));
  }

  std::uint32_t capacity_;
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<std::uint32_t[]> free_;  // stack of free slot indices
  std::unique_ptr<bool[]> live_;           // per slot: holds a constructed T
  std::uint32_t nfree_;
};

// A tuple with its hash (ConnTable::hash) already computed: TCP's input
// path hashes a segment's tuple once for the connection table, the
// TIME_WAIT table and a new TCB's insert. Converts to the key an insert
// stores.
struct HashedTuple {
  const FourTuple& tuple;
  std::size_t hash;
  operator FourTuple() const noexcept { return tuple; }  // NOLINT: implicit by design
};

// Hash functor for FourTuple keyed by a per-worker seed, so that remote peers
// cannot aim collisions (the same mix the TIME_WAIT index uses). Transparent:
// a HashedTuple brings its hash along.
struct FourTupleHash {
  using is_transparent = void;
  std::uint64_t seed = 0;
  std::size_t operator()(const FourTuple& t) const noexcept {
    return static_cast<std::size_t>(hash_four_tuple(t, seed));
  }
  std::size_t operator()(const HashedTuple& t) const noexcept { return t.hash; }
};

struct FourTupleEq {
  using is_transparent = void;
  bool operator()(const FourTuple& a, const FourTuple& b) const noexcept { return a == b; }
  bool operator()(const HashedTuple& a, const FourTuple& b) const noexcept { return a.tuple == b; }
  bool operator()(const FourTuple& a, const HashedTuple& b) const noexcept { return a == b.tuple; }
};

// FourTuple -> T* (T is the TCB; the table does not own it) with at most
// `capacity` entries.
//
// Why the packet path never allocates: the constructor calls reserve() with
// headroom, so the table holds its final bucket array from the start.
//  - Up to `capacity` entries, inserts never grow it: reserve(n) guarantees
//    n inserts without a rehash, and insert() refuses past `capacity`.
//  - Erase leaves tombstones in Abseil's SwissTable; when they use up the
//    spare slots, the next insert either rehashes in place (no allocation;
//    Abseil does this while size <= 25/32 of the bucket count, and the bucket
//    count is above 16) or grows (allocates). Reserving capacity * 32/25
//    (at least 32) keeps size below that bound, so long insert/erase churn at
//    full load rehashes in place and never allocates. The unit test checks
//    that bucket_count() never changes under churn.
template <class T>
class ConnTable {
 public:
  explicit ConnTable(std::size_t capacity, std::uint64_t seed = 0)
      : capacity_(capacity), map_(0, FourTupleHash{seed}) {
    map_.reserve(reserve_for(capacity));
  }
  ConnTable(const ConnTable&) = delete;
  ConnTable& operator=(const ConnTable&) = delete;

  T* find(const FourTuple& t) const noexcept {
    auto it = map_.find(t);
    return it == map_.end() ? nullptr : it->second;
  }
  // The table's hash of `t`: hash_four_tuple(t, seed). The overloads below
  // that take it do not hash again.
  std::size_t hash(const FourTuple& t) const noexcept { return map_.hash_function()(t); }
  T* find(const FourTuple& t, std::size_t tuple_hash) const noexcept {
    auto it = map_.find(t, tuple_hash);
    return it == map_.end() ? nullptr : it->second;
  }

  // The entry for `t` (nullptr if none), with `hash` set to hash(t) either
  // way. TCP's input looks up every segment, and a burst brings one
  // connection's segments one after another (a bulk receiver's data, a
  // sender's ACKs; GRO merges the first kind but never pure ACKs), so the
  // entry found last is kept with its key and hash: the next segment of the
  // same connection costs a key compare instead of a hash and a probe (the
  // one-entry cache of BSD's input path). A miss costs the ports' compare
  // first. Erasing the entry forgets it; nothing else changes an entry.
  T* find_and_hash(const FourTuple& t, std::size_t& hash) const noexcept {
    if (T* p = find_recent(t, hash)) return p;
    return find_past_recent(t, hash);
  }

  // find_and_hash's second step alone, for a caller whose find_recent has
  // just missed (TcpStack::input_lookup): the hash and the probe, the entry
  // found remembered.
  T* find_past_recent(const FourTuple& t, std::size_t& hash) const noexcept {
    hash = this->hash(t);
    auto it = map_.find(t, hash);
    if (it == map_.end()) return nullptr;
    recent_key_ = t;
    recent_hash_ = hash;
    recent_ = it->second;
    return recent_;
  }

  // find_and_hash's first step alone: the remembered entry if it is `t`'s
  // (`hash` set), else nullptr (`hash` untouched). TcpStack::input asks it
  // inline and leaves the hash and the probe to an out-of-line call, so
  // that a hit goes on to header prediction without a frame of its own.
  T* find_recent(const FourTuple& t, std::size_t& hash) const noexcept {
    if (recent_ != nullptr && recent_key_.rport == t.rport && recent_key_.lport == t.lport &&
        recent_key_ == t) {
      hash = recent_hash_;
      return recent_;
    }
    return nullptr;
  }

  // False if `t` is already present (the existing entry is kept) or the table
  // holds `capacity` entries.
  bool insert(const FourTuple& t, T* p) {
    if (map_.size() >= capacity_) return false;
    return map_.try_emplace(t, p).second;
  }
  // A new entry becomes find_and_hash's remembered one: a new connection's
  // next segment (the SYN-ACK to a connect(), the ACK that completes a
  // passive open) is its own, and would otherwise hash and probe again. A
  // refused insert leaves the remembered entry as it was.
  bool insert(const FourTuple& t, std::size_t tuple_hash, T* p) {
    if (map_.size() >= capacity_) return false;
    if (!map_.try_emplace(HashedTuple{t, tuple_hash}, p).second) return false;
    recent_key_ = t;
    recent_hash_ = tuple_hash;
    recent_ = p;
    return true;
  }

  // False if `t` was absent.
  bool erase(const FourTuple& t) noexcept {
    forget(t);
    return map_.erase(t) != 0;
  }
  bool erase(const FourTuple& t, std::size_t tuple_hash) noexcept {
    forget(t);
    auto it = map_.find(t, tuple_hash);
    if (it == map_.end()) return false;
    map_.erase(it);
    return true;
  }

  // Calls fn(const FourTuple&, T*) for every entry, in no particular order.
  // fn must not insert into or erase from the table.
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const auto& [tuple, p] : map_) fn(tuple, p);
  }
  // As for_each, until fn returns false.
  template <class Fn>
  void for_each_while(Fn&& fn) const {
    for (const auto& [tuple, p] : map_)
      if (!fn(tuple, p)) return;
  }

  std::size_t size() const noexcept { return map_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }
  // The hash table's bucket count: fixed after construction (see above).
  std::size_t bucket_count() const noexcept { return map_.bucket_count(); }

 private:
  static std::size_t reserve_for(std::size_t capacity) noexcept {
    const std::size_t n = capacity / 25 * 32 + capacity % 25 * 32 / 25 + 1;
    return n < 32 ? 32 : n;
  }

  // find_and_hash's last entry found goes with its key's erase.
  void forget(const FourTuple& t) noexcept {
    if (recent_ != nullptr && recent_key_ == t) recent_ = nullptr;
  }

  std::size_t capacity_;
  absl::flat_hash_map<FourTuple, T*, FourTupleHash, FourTupleEq> map_;
  // find_and_hash's last hit: valid while recent_ is not null.
  mutable FourTuple recent_key_{};
  mutable std::size_t recent_hash_ = 0;
  mutable T* recent_ = nullptr;
};

}  // namespace tern
