// Shard-per-core threading: N io_contexts, one thread each; a connection lives on one shard.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace switchboard {

// Each shard runs on exactly one thread, so state owned by a shard needs no locks; work for
// another shard is posted to it (asio::post(pool.context(i), ...)), never done under a lock.
class shard_pool {
public:
    explicit shard_pool(std::size_t shard_count);
    ~shard_pool();
    shard_pool(const shard_pool&) = delete;
    shard_pool& operator=(const shard_pool&) = delete;

    [[nodiscard]] std::size_t size() const noexcept { return contexts_.size(); }
    boost::asio::io_context& context(std::size_t shard) { return *contexts_[shard]; }

    // The shard whose thread is calling, or size() when called from another thread.
    [[nodiscard]] std::size_t current_shard() const noexcept;

    // Starts one thread per shard.
    void start();
    // Stops every shard (pending handlers are abandoned) and joins the threads.
    void stop_and_join();

private:
    using work_guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
    std::vector<work_guard> guards_;
    std::vector<std::thread> threads_;
};

}  // namespace switchboard
