#include "wire/tcp_options.h"

#include <algorithm>

#include "wire/bytes.h"

namespace tern {

Parsed<TcpOptions> parse_tcp_options(std::span<const std::byte> b) noexcept {
  TcpOptions o;
  if (!parse_tcp_options_into(b, o)) return ParseError::kBadOption;
  return o;
}

bool parse_tcp_options_walk(std::span<const std::byte> b, TcpOptions& o) noexcept {
  // The SYN and SYN-ACK layout of Linux and of Tern itself
  // (write_tcp_options with MSS, SACK-permitted, timestamps and window
  // scale: 02 04 mss, 04 02 08 0a TSval TSecr, 01 03 03 ws), read at once:
  // the walk below gives the same four fields for these bytes, in some 100
  // more instructions per SYN (two per connection).
  if (b.size() == 20 && load_be16(b.data()) == 0x0204u && load_be32(b.data() + 4) == 0x0402080Au &&
      (load_be32(b.data() + 16) & 0xFFFFFF00u) == 0x01030300u) {
    o.mss = load_be16(b.data() + 2);
    o.sack_permitted = true;
    o.timestamps = std::pair{load_be32(b.data() + 8), load_be32(b.data() + 12)};
    o.window_scale = load_u8(b.data() + 19);
    return true;
  }
  std::size_t i = 0;
  const std::size_t n = b.size();
  while (i < n) {
    const std::uint8_t kind = load_u8(&b[i]);
    if (kind == kTcpOptEnd) break;
    if (kind == kTcpOptNop) {
      ++i;
      continue;
    }
    if (i + 1 >= n) return false;
    const std::size_t len = load_u8(&b[i + 1]);
    if (len < 2 || len > n - i) return false;
    const std::byte* v = &b[i + 2];
    switch (kind) {
      case kTcpOptMss:
        if (len != 4) return false;
        o.mss = load_be16(v);
        break;
      case kTcpOptWindowScale:
        if (len != 3) return false;
        o.window_scale = load_u8(v);
        break;
      case kTcpOptSackPermitted:
        if (len != 2) return false;
        o.sack_permitted = true;
        break;
      case kTcpOptSack: {
        const std::size_t blocks = (len - 2) / 8;
        if ((len - 2) % 8 != 0 || blocks < 1 || blocks > kTcpMaxSackBlocks) return false;
        for (std::size_t k = 0; k < blocks; ++k) {
          o.sack[k] = SackBlock{load_be32(v + 8 * k), load_be32(v + 8 * k + 4)};
        }
        o.sack_count = static_cast<std::uint8_t>(blocks);
        break;
      }
      case kTcpOptTimestamps:
        if (len != 10) return false;
        o.timestamps = std::pair{load_be32(v), load_be32(v + 4)};
        break;
      default:
        break;  // unknown kind, sane length: skip
    }
    i += len;
  }
  return true;
}

namespace {

// Lays out `o` into `out` (or only measures it when out is null).
std::size_t layout(std::byte* out, std::size_t budget, const TcpOptions& o) noexcept {
  budget = std::min(budget, kTcpMaxOptionsLen);
  std::size_t used = 0;
  // Callers check fits() first; put() only advances (and has nothing to
  // hand out when measuring).
  const auto put = [&](std::size_t len) -> std::byte* {
    std::byte* p = out == nullptr ? nullptr : out + used;
    used += len;
    return p;
  };
  const auto fits = [&](std::size_t len) { return used + len <= budget; };

  if (o.mss && fits(4)) {
    if (std::byte* p = put(4)) {
      store_u8(p, kTcpOptMss);
      store_u8(p + 1, 4);
      store_be16(p + 2, *o.mss);
    }
  }
  bool sack_perm_done = false;
  if (o.timestamps && fits(12)) {
    std::byte* p = put(12);
    sack_perm_done = o.sack_permitted;
    if (p != nullptr) {
      if (o.sack_permitted) {
        store_u8(p, kTcpOptSackPermitted);
        store_u8(p + 1, 2);
      } else {
        store_u8(p, kTcpOptNop);
        store_u8(p + 1, kTcpOptNop);
      }
      store_u8(p + 2, kTcpOptTimestamps);
      store_u8(p + 3, 10);
      store_be32(p + 4, o.timestamps->first);
      store_be32(p + 8, o.timestamps->second);
    }
  }
  if (o.sack_permitted && !sack_perm_done && fits(4)) {
    if (std::byte* p = put(4)) {
      store_u8(p, kTcpOptNop);
      store_u8(p + 1, kTcpOptNop);
      store_u8(p + 2, kTcpOptSackPermitted);
      store_u8(p + 3, 2);
    }
  }
  if (o.window_scale && fits(4)) {
    if (std::byte* p = put(4)) {
      store_u8(p, kTcpOptNop);
      store_u8(p + 1, kTcpOptWindowScale);
      store_u8(p + 2, 3);
      store_u8(p + 3, *o.window_scale);
    }
  }
  const std::size_t want = std::min<std::size_t>(o.sack_count, kTcpMaxSackBlocks);
  if (want > 0 && fits(4 + 8)) {
    const std::size_t blocks = std::min(want, (budget - used - 4) / 8);
    if (std::byte* p = put(4 + 8 * blocks)) {
      store_u8(p, kTcpOptNop);
      store_u8(p + 1, kTcpOptNop);
      store_u8(p + 2, kTcpOptSack);
      store_u8(p + 3, static_cast<std::uint8_t>(2 + 8 * blocks));
      for (std::size_t k = 0; k < blocks; ++k) {
        store_be32(p + 4 + 8 * k, o.sack[k].left);
        store_be32(p + 8 + 8 * k, o.sack[k].right);
      }
    }
  }
  return used;
}

}  // namespace

std::size_t tcp_options_len(const TcpOptions& o, std::size_t budget) noexcept {
  return layout(nullptr, budget, o);
}

std::size_t write_tcp_options(std::span<std::byte> out, const TcpOptions& o) noexcept {
  // A SYN or SYN-ACK with all four options and no SACK block (two per
  // connection): layout's pieces in one go, the same 20 bytes.
  if (o.mss && o.sack_permitted && o.timestamps && o.window_scale && o.sack_count == 0 && out.size() >= 20) {
    std::byte* p = out.data();
    store_be32(p, 0x02040000u | *o.mss);
    store_be32(p + 4, 0x0402080Au);
    store_be32(p + 8, o.timestamps->first);
    store_be32(p + 12, o.timestamps->second);
    store_be32(p + 16, 0x01030300u | *o.window_scale);
    return 20;
  }
  return layout(out.data(), out.size(), o);
}

}  // namespace tern
