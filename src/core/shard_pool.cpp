#include "core/shard_pool.hpp"

namespace switchboard {

namespace {
// Set once per shard thread; lets code ask "am I on shard i?" without a lookup.
thread_local std::size_t this_thread_shard = static_cast<std::size_t>(-1);
thread_local const shard_pool* this_thread_pool = nullptr;
}  // namespace

shard_pool::shard_pool(std::size_t shard_count) {
    if (shard_count == 0) {
        shard_count = 1;
    }
    contexts_.reserve(shard_count);
    for (std::size_t i = 0; i < shard_count; ++i) {
        // Concurrency hint 1: each context is driven by exactly one thread, so Asio can skip
        // locking.
        contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
        guards_.emplace_back(contexts_.back()->get_executor());
    }
}

shard_pool::~shard_pool() {
    stop_and_join();
}

std::size_t shard_pool::current_shard() const noexcept {
    return this_thread_pool == this ? this_thread_shard : size();
}

void shard_pool::start() {
    for (std::size_t i = 0; i < contexts_.size(); ++i) {
        threads_.emplace_back([this, i] {
            this_thread_shard = i;
            this_thread_pool = this;
            contexts_[i]->run();
        });
    }
}

void shard_pool::stop_and_join() {
    guards_.clear();
    for (auto& context : contexts_) {
        context->stop();
    }
    for (auto& thread : threads_) {
        if (thread.joinable()) {
            thread.join();
        }
    }
    threads_.clear();
}

}  // namespace switchboard
