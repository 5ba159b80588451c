#pragma once
// Logging moved to lib/base (the engine logs too); kept for existing includes.
#include "base/log.h"
