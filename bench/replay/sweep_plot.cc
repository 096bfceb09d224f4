// WriteSweepSvg: a hand-written SVG line plot (it is text), no plotting
// library needed. Log-scaled capacity axis when the sweep spans > 10x.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "bench/replay/sweep.h"

namespace kvtier::replay {
namespace {

constexpr double kWidth = 760, kHeight = 460;
constexpr double kLeft = 70, kRight = 170, kTop = 40, kBottom = 90;
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};

// 1500 -> "1.5k", 2000000 -> "2M": tick labels that fit.
std::string Short(double v) {
  char text[32];
  if (v >= 1e9) {
    std::snprintf(text, sizeof text, "%.3gG", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(text, sizeof text, "%.3gM", v / 1e6);
  } else if (v >= 1e3) {
    std::snprintf(text, sizeof text, "%.3gk", v / 1e3);
  } else {
    std::snprintf(text, sizeof text, "%.3g", v);
  }
  return text;
}

// Text for SVG: &, < and > escaped.
std::string Escaped(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out += c;
    }
  }
  return out;
}

struct Axes {
  double x_min, x_max, y_max, y_step;
  bool log_x;
  double block_tokens = 0;        // for the tokens line under the block ticks
  double kv_bytes_per_token = 0;  // for the GiB line (0: none)
  double X(double capacity) const {
    const double a = log_x ? std::log10(capacity) : capacity;
    const double lo = log_x ? std::log10(x_min) : x_min;
    const double hi = log_x ? std::log10(x_max) : x_max;
    const double f = hi > lo ? (a - lo) / (hi - lo) : 0.5;
    return kLeft + f * (kWidth - kLeft - kRight);
  }
  double Y(double rate) const {
    return kHeight - kBottom - rate / y_max * (kHeight - kTop - kBottom);
  }
};

// The hit rate at both end points of a line, next to them.
std::string EndLabels(const std::vector<std::pair<double, double>>& pts, const Axes& a,
                      const char* color) {
  if (pts.empty()) return {};
  std::string s;
  char text[200];
  for (const auto& [x, y] : {pts.front(), pts.back()}) {
    std::snprintf(text, sizeof text,
                  "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\" font-size=\"10\" "
                  "text-anchor=\"middle\">%.1f%%</text>\n",
                  a.X(x), a.Y(y) - 7, color, y * 100);
    s += text;
  }
  return s;
}

double Capacity(const Report& r) {
  return static_cast<double>(r.config.host_blocks + r.config.nvme_blocks);
}

std::string Polyline(const std::vector<std::pair<double, double>>& pts, const Axes& a,
                     const char* color, const char* dash) {
  std::string s =
      "<polyline fill=\"none\" stroke=\"" + std::string(color) + "\" stroke-width=\"2\"" +
      (dash[0] ? std::string(" stroke-dasharray=\"") + dash + "\"" : "") + " points=\"";
  std::string dots;  // the measured points of a policy's line
  char xy[160];
  for (const auto& [x, y] : pts) {
    std::snprintf(xy, sizeof xy, "%.1f,%.1f ", a.X(x), a.Y(y));
    s += xy;
    if (dash[0] == '\0') {
      std::snprintf(xy, sizeof xy,
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", a.X(x),
                    a.Y(y), color);
      dots += xy;
    }
  }
  return s + "\"/>\n" + dots + "\n";
}

void Grid(const Axes& a, std::ostream& out) {
  char text[256];
  for (int i = 0; i * a.y_step <= a.y_max + 1e-9; ++i) {
    const double rate = i * a.y_step;
    std::snprintf(
        text, sizeof text,
        "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
        "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n",
        kLeft, a.Y(rate), kWidth - kRight, a.Y(rate), kLeft - 6, a.Y(rate) + 4,
        rate * 100);
    out << text;
  }
  std::vector<double> ticks;
  if (a.log_x) {
    for (double d = std::pow(10, std::floor(std::log10(a.x_min))); d <= a.x_max;
         d *= 10) {
      for (const double m : {1.0, 2.0, 5.0}) {
        if (d * m >= a.x_min && d * m <= a.x_max) ticks.push_back(d * m);
      }
    }
  } else {
    for (int i = 0; i <= 5; ++i) ticks.push_back(a.x_min + (a.x_max - a.x_min) * i / 5);
  }
  for (const double t : ticks) {
    const double tokens = t * a.block_tokens;
    const double gib = tokens * a.kv_bytes_per_token / double(uint64_t{1} << 30);
    std::snprintf(
        text, sizeof text,
        "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#ddd\"/>"
        "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>"
        "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#555\">%s</text>"
        "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#555\">%.3g</text>\n",
        a.X(t), kTop, a.X(t), kHeight - kBottom, a.X(t), kHeight - kBottom + 16,
        Short(t).c_str(), a.X(t), kHeight - kBottom + 32, Short(tokens).c_str(), a.X(t),
        kHeight - kBottom + 48, gib);
    out << text;
  }
  std::snprintf(
      text, sizeof text,
      "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">capacity: blocks "
      "(host + nvme), tokens, GiB of KV%s</text>\n"
      "<text x=\"18\" y=\"%.0f\" text-anchor=\"middle\" transform=\"rotate(-90 18 "
      "%.0f)\">hit rate (blocks)</text>\n",
      (kLeft + kWidth - kRight) / 2, kHeight - 18, a.log_x ? ", log scale" : "",
      (kTop + kHeight - kBottom) / 2, (kTop + kHeight - kBottom) / 2);
  out << text;
}

void Legend(const std::vector<std::pair<std::string, std::string>>& entries,
            std::ostream& out) {
  char text[256];
  double y = kTop + 10;
  for (const auto& [label, style] : entries) {
    std::snprintf(
        text, sizeof text,
        "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke-width=\"2\" "
        "%s/><text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
        kWidth - kRight + 12, y, kWidth - kRight + 40, y, style.c_str(),
        kWidth - kRight + 46, y + 4, label.c_str());
    out << text;
    y += 20;
  }
}

}  // namespace

void WriteSweepSvg(const std::vector<Report>& rows, const std::string& title,
                   std::ostream& out, uint64_t kv_bytes_per_token) {
  if (rows.empty()) return;
  Axes a{Capacity(rows[0]),
         Capacity(rows[0]),
         0.0,
         0.05,
         false,
         double(rows[0].block_tokens),
         double(kv_bytes_per_token)};
  std::map<std::string, std::vector<std::pair<double, double>>> lines;
  std::map<double, double> belady;
  for (const Report& r : rows) {
    a.x_min = std::min(a.x_min, Capacity(r));
    a.x_max = std::max(a.x_max, Capacity(r));
    a.y_max = std::max({a.y_max, CeilingRate(r), BeladyRate(r), HitRateBlocks(r)});
    lines[r.policy].push_back({Capacity(r), HitRateBlocks(r)});
    belady[Capacity(r)] = BeladyRate(r);
  }
  a.log_x = a.x_min > 0 && a.x_max / a.x_min > 10;
  // Gridlines at a round step, at most ten of them.
  const double top = std::max(0.01, a.y_max * 1.08);
  for (const double step : {0.01, 0.02, 0.05, 0.1, 0.2}) {
    a.y_step = step;
    if (top / step <= 10) break;
  }
  a.y_max = std::ceil(top / a.y_step) * a.y_step;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\""
      << kHeight << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << kLeft << "\" y=\"22\" font-size=\"14\">" << Escaped(title)
      << "</text>\n";
  Grid(a, out);
  std::vector<std::pair<std::string, std::string>> legend;
  size_t color = 0;
  for (auto& [policy, pts] : lines) {
    std::sort(pts.begin(), pts.end());
    const char* c = kColors[color++ % std::size(kColors)];
    out << Polyline(pts, a, c, "") << EndLabels(pts, a, c);
    legend.push_back({policy, std::string("stroke=\"") + c + "\""});
  }
  out << Polyline({belady.begin(), belady.end()}, a, "#000", "6,4");
  legend.push_back({"Belady (MIN)", "stroke=\"#000\" stroke-dasharray=\"6,4\""});
  const double ceiling = CeilingRate(rows[0]);
  out << Polyline({{a.x_min, ceiling}, {a.x_max, ceiling}}, a, "#888", "2,3");
  legend.push_back({"ceiling (infinite)", "stroke=\"#888\" stroke-dasharray=\"2,3\""});
  Legend(legend, out);
  out << "</svg>\n";
}

}  // namespace kvtier::replay
