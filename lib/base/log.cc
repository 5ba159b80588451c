#include "base/log.h"

namespace tern {

int log_type() noexcept {
  static const int type = [] {
    int t = rte_log_register_type_and_pick_level("tern", RTE_LOG_INFO);
    return t < 0 ? RTE_LOGTYPE_USER1 : t;
  }();
  return type;
}

}  // namespace tern
