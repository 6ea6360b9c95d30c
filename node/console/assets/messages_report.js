// The message catalogue's keys of the Report page (report.js), added to
// MESSAGES (messages.js, loaded first): Vietnamese first, English on the
// switch, the same keys in both.
"use strict";
Object.assign(MESSAGES.vi, {
  "nav.report": "Báo cáo",
  "report.title": "Báo cáo số liệu ẩn danh",
  "report.how": "Số hồ sơ đang mở của văn phòng, chỉ từ các trường không bảo mật, không có tên. Số từ 1 đến {max} được che (hiện “{shown}”) để không ai nhận ra một người.",
  "report.threshold": "Che các số nhỏ hơn",
  "report.apply": "Xem",
  "report.total": "Tổng số hồ sơ:",
  "report.breakdown.status": "Theo trạng thái",
  "report.breakdown.intake_channel": "Theo kênh tiếp nhận",
  "report.breakdown.province": "Theo tỉnh",
  "report.breakdown.month": "Theo tháng mở",
  "report.breakdown.age_band": "Theo nhóm tuổi (nạn nhân)",
  "report.breakdown.sex": "Theo giới tính (nạn nhân)"
});
Object.assign(MESSAGES.en, {
  "nav.report": "Report",
  "report.title": "Anonymised figures",
  "report.how": "The office's live cases, from clear fields only, no names. Counts from 1 to {max} are suppressed (shown \"{shown}\") so that nobody can be singled out.",
  "report.threshold": "Suppress counts below",
  "report.apply": "Show",
  "report.total": "Live cases:",
  "report.breakdown.status": "By status",
  "report.breakdown.intake_channel": "By intake channel",
  "report.breakdown.province": "By province",
  "report.breakdown.month": "By month opened",
  "report.breakdown.age_band": "By age band (victim)",
  "report.breakdown.sex": "By sex (victim)"
});
