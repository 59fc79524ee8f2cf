#include "server/log_format.hpp"

#include "core/log_context.hpp"

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <ctime>
#include <memory>
#include <string>

namespace switchboard {
namespace {

class json_formatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto since_epoch = msg.time.time_since_epoch();
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
        const auto millis =
            std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
        const std::time_t t = seconds.count();
        std::tm utc{};
        gmtime_r(&t, &utc);
        char stamp[32];
        const auto length = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
        std::string line = "{\"time\":\"";
        line.append(stamp, length);
        line += '.';
        line += static_cast<char>('0' + millis / 100);
        line += static_cast<char>('0' + millis / 10 % 10);
        line += static_cast<char>('0' + millis % 10);
        line += "Z\",\"level\":\"";
        const auto level = spdlog::level::to_string_view(msg.level);
        line.append(level.data(), level.size());
        line += '"';
        if (msg.logger_name.size() > 0) {
            line += ",\"logger\":";
            line += boost::json::serialize(boost::json::value(
                boost::json::string_view(msg.logger_name.data(), msg.logger_name.size())));
        }
        line += ",\"msg\":";
        // serialize() escapes quotes, control characters and invalid UTF-8 stays as given bytes.
        line += boost::json::serialize(
            boost::json::value(boost::json::string_view(msg.payload.data(), msg.payload.size())));
        // spdlog formats on the logging thread (no async sink): its context is the line's.
        const auto& context = current_log_context();
        if (context.request != 0) {
            line += ",\"request\":";
            line += std::to_string(context.request);
        }
        if (!context.connection.empty()) {
            line += ",\"connection\":";
            line += boost::json::serialize(boost::json::value(
                boost::json::string_view(context.connection.data(), context.connection.size())));
        }
        line += "}\n";
        dest.append(line.data(), line.data() + line.size());
    }

    [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<json_formatter>();
    }
};

}  // namespace

void use_json_log_format() {
    spdlog::set_formatter(std::make_unique<json_formatter>());
}

}  // namespace switchboard
