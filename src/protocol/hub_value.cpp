#include "protocol/hub_value.hpp"

#include "core/base64.hpp"

#include <boost/json/array.hpp>
#include <boost/json/error.hpp>

#include <array>
#include <cstring>
#include <limits>

namespace switchboard::protocol {

namespace json = boost::json;

namespace {

constexpr std::uint32_t nanoseconds_per_second = 1'000'000'000;
constexpr std::int64_t seconds_per_day = 86'400;

// Calendar arithmetic on the proleptic Gregorian calendar for the whole int64 range of seconds,
// which std::chrono::year (±32767) does not cover. Years are counted from March so that the
// leap day ends a year; 400 years are exactly 146097 days.
constexpr std::int64_t days_per_era = 146'097;
constexpr std::int64_t epoch_shift = 719'468;  // days from 0000-03-01 to 1970-01-01

// Division rounding down, and the matching remainder in [0, b), for b > 0. The remainder is not
// a - floor_div(a, b) * b, which overflows near the int64 minimum.
std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
    const std::int64_t q = a / b;
    return a % b < 0 ? q - 1 : q;
}

std::int64_t floor_mod(std::int64_t a, std::int64_t b) noexcept {
    const std::int64_t r = a % b;
    return r < 0 ? r + b : r;
}

// Days from 1970-01-01 to year-month-day; month 1..12, day 1..31.
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) noexcept {
    const std::int64_t march_year = month <= 2 ? year - 1 : year;
    const std::int64_t era = floor_div(march_year, 400);
    const auto year_of_era = static_cast<unsigned>(march_year - era * 400);  // 0..399
    const unsigned march_month = month > 2 ? month - 3 : month + 9;          // 0 = March
    const unsigned day_of_year = (153 * march_month + 2) / 5 + day - 1;      // 0..365
    const unsigned day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;  // 0..146096
    return era * days_per_era + day_of_era - epoch_shift;
}

struct civil_date {
    std::int64_t year;
    unsigned month;
    unsigned day;
};

civil_date civil_from_days(std::int64_t days) noexcept {
    const std::int64_t shifted = days + epoch_shift;
    const std::int64_t era = floor_div(shifted, days_per_era);
    const auto day_of_era = static_cast<unsigned>(shifted - era * days_per_era);
    // Leap days at the end of each 4-, 100- and 400-year block shift the year boundary.
    const unsigned year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const unsigned day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const unsigned march_month = (5 * day_of_year + 2) / 153;
    const unsigned day = day_of_year - (153 * march_month + 2) / 5 + 1;
    const unsigned month = march_month < 10 ? march_month + 3 : march_month - 9;
    const std::int64_t year = era * 400 + year_of_era + (month <= 2 ? 1 : 0);
    return {year, month, day};
}

bool is_leap_year(std::int64_t year) noexcept {
    return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

unsigned days_in_month(std::int64_t year, unsigned month) noexcept {
    static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

void append_digits(std::uint64_t number, int width, std::string& out) {
    char buffer[20];
    int size = 0;
    do {
        buffer[size++] = static_cast<char>('0' + number % 10);
        number /= 10;
    } while (number != 0);
    for (int i = size; i < width; ++i) {
        out.push_back('0');
    }
    while (size > 0) {
        out.push_back(buffer[--size]);
    }
}

// A cursor over the ISO-8601 text; every read fails rather than run past the end.
class iso_reader {
public:
    explicit iso_reader(std::string_view text) noexcept : text_(text) {}

    bool at_end() const noexcept { return position_ == text_.size(); }
    bool peek(char c) const noexcept { return position_ < text_.size() && text_[position_] == c; }
    bool consume(char c) noexcept {
        if (!peek(c)) {
            return false;
        }
        ++position_;
        return true;
    }
    bool digit_next() const noexcept {
        return position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9';
    }
    // Exactly `count` digits.
    bool number(int count, std::int64_t& value) noexcept {
        value = 0;
        for (int i = 0; i < count; ++i) {
            if (!digit_next()) {
                return false;
            }
            value = value * 10 + (text_[position_++] - '0');
        }
        return true;
    }
    // One or more digits; the first nine give the nanoseconds, the rest are dropped.
    bool fraction(std::uint32_t& nanoseconds) noexcept {
        if (!digit_next()) {
            return false;
        }
        std::uint32_t value = 0;
        int digits = 0;
        while (digit_next()) {
            if (digits < 9) {
                value = value * 10 + static_cast<std::uint32_t>(text_[position_] - '0');
                ++digits;
            }
            ++position_;
        }
        for (; digits < 9; ++digits) {
            value *= 10;
        }
        nanoseconds = value;
        return true;
    }

private:
    std::string_view text_;
    std::size_t position_ = 0;
};

}  // namespace

timestamp timestamp::from_time_point(
    std::chrono::sys_time<std::chrono::nanoseconds> time) noexcept {
    const std::int64_t count = time.time_since_epoch().count();
    return {floor_div(count, nanoseconds_per_second),
            static_cast<std::uint32_t>(floor_mod(count, nanoseconds_per_second))};
}

std::chrono::sys_time<std::chrono::nanoseconds> timestamp::to_time_point() const noexcept {
    // The member `nanoseconds` hides std::chrono::nanoseconds here.
    using ns = std::chrono::nanoseconds;
    using time_point = std::chrono::sys_time<ns>;
    constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
    constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();
    if (seconds > max / nanoseconds_per_second - 1) {
        return time_point(ns(max));
    }
    if (seconds < min / nanoseconds_per_second + 1) {
        return time_point(ns(min));
    }
    return time_point(ns(seconds * nanoseconds_per_second + nanoseconds));
}

hub_value make_binary(std::span<const std::uint8_t> bytes) {
    return make_binary(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

hub_value make_binary(std::string_view bytes) {
    json::object object;
    object.emplace(binary_marker, json::string(bytes));
    return object;
}

const json::string* as_binary(const hub_value& value) noexcept {
    const auto* object = value.if_object();
    if (object == nullptr || object->size() != 1) {
        return nullptr;
    }
    const auto& member = *object->begin();
    return member.key() == binary_marker ? member.value().if_string() : nullptr;
}

hub_value make_timestamp(std::int64_t seconds, std::uint32_t nanoseconds) {
    if (nanoseconds >= nanoseconds_per_second) {
        const std::int64_t carry = nanoseconds / nanoseconds_per_second;
        if (seconds > std::numeric_limits<std::int64_t>::max() - carry) {
            seconds = std::numeric_limits<std::int64_t>::max();
            nanoseconds = nanoseconds_per_second - 1;
        } else {
            seconds += carry;
            nanoseconds %= nanoseconds_per_second;
        }
    }
    json::object object;
    object.emplace(timestamp_marker, json::array{seconds, nanoseconds});
    return object;
}

hub_value make_timestamp(timestamp time) {
    return make_timestamp(time.seconds, time.nanoseconds);
}

std::optional<timestamp> as_timestamp(const hub_value& value) noexcept {
    const auto* object = value.if_object();
    if (object == nullptr || object->size() != 1) {
        return std::nullopt;
    }
    const auto& member = *object->begin();
    if (member.key() != timestamp_marker) {
        return std::nullopt;
    }
    const auto* parts = member.value().if_array();
    if (parts == nullptr || parts->size() != 2) {
        return std::nullopt;
    }
    // Positive numbers may arrive as uint64 from a writer other than ours.
    const auto integer = [](const json::value& v) -> std::optional<std::int64_t> {
        if (const auto* signed_value = v.if_int64()) {
            return *signed_value;
        }
        if (const auto* unsigned_value = v.if_uint64();
            unsigned_value != nullptr &&
            *unsigned_value <=
                static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            return static_cast<std::int64_t>(*unsigned_value);
        }
        return std::nullopt;
    };
    const auto seconds = integer((*parts)[0]);
    const auto nanoseconds = integer((*parts)[1]);
    if (!seconds || !nanoseconds || *nanoseconds < 0 || *nanoseconds >= nanoseconds_per_second) {
        return std::nullopt;
    }
    return timestamp{*seconds, static_cast<std::uint32_t>(*nanoseconds)};
}

void append_iso8601(timestamp time, std::string& out) {
    const std::int64_t days = floor_div(time.seconds, seconds_per_day);
    const auto second_of_day = static_cast<std::uint64_t>(floor_mod(time.seconds, seconds_per_day));
    const civil_date date = civil_from_days(days);

    if (date.year >= 0 && date.year <= 9999) {
        append_digits(static_cast<std::uint64_t>(date.year), 4, out);
    } else {
        out.push_back(date.year < 0 ? '-' : '+');
        // Magnitude without negating: the year of int64 seconds is far from the int64 limits.
        append_digits(static_cast<std::uint64_t>(date.year < 0 ? -date.year : date.year), 6, out);
    }
    out.push_back('-');
    append_digits(date.month, 2, out);
    out.push_back('-');
    append_digits(date.day, 2, out);
    out.push_back('T');
    append_digits(second_of_day / 3600, 2, out);
    out.push_back(':');
    append_digits(second_of_day / 60 % 60, 2, out);
    out.push_back(':');
    append_digits(second_of_day % 60, 2, out);
    if (time.nanoseconds != 0) {
        std::uint32_t fraction = time.nanoseconds % nanoseconds_per_second;
        int digits = 9;
        while (fraction % 10 == 0) {
            fraction /= 10;
            --digits;
        }
        out.push_back('.');
        append_digits(fraction, digits, out);
    }
    out.push_back('Z');
}

std::optional<timestamp> parse_iso8601(std::string_view text) noexcept {
    iso_reader in(text);
    std::int64_t year = 0;
    if (in.peek('+') || in.peek('-')) {
        const bool negative = in.peek('-');
        in.consume(negative ? '-' : '+');
        if (!in.number(6, year)) {
            return std::nullopt;
        }
        year = negative ? -year : year;
    } else if (!in.number(4, year)) {
        return std::nullopt;
    }
    std::int64_t month = 0;
    std::int64_t day = 0;
    if (!in.consume('-') || !in.number(2, month) || month < 1 || month > 12 || !in.consume('-') ||
        !in.number(2, day) || day < 1 || day > days_in_month(year, static_cast<unsigned>(month))) {
        return std::nullopt;
    }

    std::int64_t hour = 0;
    std::int64_t minute = 0;
    std::int64_t second = 0;
    std::uint32_t nanoseconds = 0;
    std::int64_t offset_seconds = 0;
    if (!in.at_end()) {
        if (!in.consume('T') || !in.number(2, hour) || hour > 23 || !in.consume(':') ||
            !in.number(2, minute) || minute > 59 || !in.consume(':') || !in.number(2, second) ||
            second > 59) {
            return std::nullopt;
        }
        if (in.consume('.') && !in.fraction(nanoseconds)) {
            return std::nullopt;
        }
        if (!in.consume('Z') && (in.peek('+') || in.peek('-'))) {
            const bool negative = in.peek('-');
            in.consume(negative ? '-' : '+');
            std::int64_t offset_hours = 0;
            std::int64_t offset_minutes = 0;
            if (!in.number(2, offset_hours) || offset_hours > 23 || !in.consume(':') ||
                !in.number(2, offset_minutes) || offset_minutes > 59) {
                return std::nullopt;
            }
            offset_seconds = (offset_hours * 60 + offset_minutes) * 60;
            offset_seconds = negative ? -offset_seconds : offset_seconds;
        }
        if (!in.at_end()) {
            return std::nullopt;
        }
    }

    // Six-digit years keep every sum far inside int64.
    const std::int64_t days =
        days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    const std::int64_t seconds =
        days * seconds_per_day + hour * 3600 + minute * 60 + second - offset_seconds;
    return timestamp{seconds, nanoseconds};
}

void tag_invoke(const json::value_from_tag&, json::value& value, const binary& data) {
    value = make_binary(std::span<const std::uint8_t>(data.bytes));
}

json::result<binary> tag_invoke(const json::try_value_to_tag<binary>&, const json::value& value) {
    binary result;
    if (const auto* bytes = as_binary(value)) {
        result.bytes.assign(bytes->begin(), bytes->end());
        return result;
    }
    if (const auto* text = value.if_string()) {
        std::string decoded;
        if (decode_base64(*text, decoded)) {
            result.bytes.assign(decoded.begin(), decoded.end());
            return result;
        }
    }
    return json::make_error_code(json::error::not_string);
}

void tag_invoke(const json::value_from_tag&, json::value& value, timestamp time) {
    value = make_timestamp(time);
}

json::result<timestamp> tag_invoke(const json::try_value_to_tag<timestamp>&,
                                   const json::value& value) {
    if (auto time = as_timestamp(value)) {
        return *time;
    }
    if (const auto* text = value.if_string()) {
        if (auto time = parse_iso8601(*text)) {
            return *time;
        }
    }
    return json::make_error_code(json::error::not_string);
}

}  // namespace switchboard::protocol
