#pragma once
// Runs an api::App inside a runtime Worker: the WorkerApp the runtime calls
// owns the WorkerContext the App sees (internal to lib/api).
#include <memory>

#include "runtime/worker.h"
#include "tern/api.h"

namespace tern::api {

class WorkerAppAdapter final : public tern::WorkerApp {
 public:
  WorkerAppAdapter(Worker& w, rte_mempool* pool, std::unique_ptr<App> app)
      : ctx_(new WorkerContext(w, pool)), app_(std::move(app)) {}
  ~WorkerAppAdapter() override {
    app_.reset();  // before the context: the App may hold connections
  }

  void on_start(Worker& /*w*/, Instant now) override {
    ctx_->now_ = now;
    if (app_) app_->on_start(*ctx_);
  }
  void on_poll(Worker& /*w*/, Instant now) override {
    ctx_->run_callbacks(now);
    ctx_->run_udp_callbacks();
    if (app_) app_->on_poll(*ctx_);
  }

  WorkerContext& context() noexcept { return *ctx_; }
  App* app() noexcept { return app_.get(); }

 private:
  std::unique_ptr<WorkerContext> ctx_;
  std::unique_ptr<App> app_;
};

}  // namespace tern::api
