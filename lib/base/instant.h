#pragma once
// Instants and durations are public vocabulary (tern/time.h).
#include "tern/time.h"
