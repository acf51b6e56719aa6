// Interface strings in Chinese (default) and English; `t(key, vars)` looks one up, `{name}` is filled from vars.

const STRINGS = {
  zh: {
    "app.title": "智慧社区控制室",
    "nav.board": "告警", "nav.silences": "静默", "nav.devices": "设备", "nav.logout": "退出",
    "login.heading": "登录", "login.token": "访问令牌", "login.submit": "登录",
    "login.hint": "令牌由管理员用 sca users 创建。",
    "login.invalid": "令牌无效，请重新输入。", "login.failed": "无法连接服务器：{msg}",
    "login.expired": "登录已失效，请重新登录。",
    "role.operator": "值班员", "role.admin": "管理员",
    "conn.live": "实时", "conn.connecting": "连接中…", "conn.down": "已断开",
    "conn.banner": "实时连接已断开，{s} 秒后重连…（告警列表可能不是最新）",
    "conn.restored": "实时连接已恢复",
    "sound.on": "声音：开", "sound.off": "声音：关",
    "filter.active": "仅未关闭", "filter.allStatus": "全部状态", "filter.allSeverity": "全部级别",
    "counts.total": "未关闭 {n}", "board.empty": "当前没有告警",
    "field.type": "类型", "field.site": "小区", "field.location": "位置", "field.device": "设备",
    "field.started": "开始", "field.updated": "更新", "field.ended": "结束", "field.count": "次数",
    "field.assignee": "负责人", "field.escalation": "升级", "field.silenced": "已静默",
    "detail.close": "关闭", "detail.evidence": "证据", "detail.noEvidence": "没有证据图像",
    "detail.evidenceFailed": "证据加载失败", "detail.history": "处理记录", "detail.details": "详情",
    "detail.facade": "立面：{floors} 层 × {columns} 列，抛出窗口 {floor} 层 {column} 列",
    "detail.trajectory": "轨迹（{n} 点）", "detail.zone": "消防通道 {zone}",
    "detail.broadcasts": "已广播 {n} 次", "detail.escalatedYes": "已升级并派保安",
    "detail.readings": "传感器读数", "detail.noReadings": "没有该告警的读数",
    "detail.loading": "加载中…", "detail.silenceLike": "静默同类",
    "action.note": "备注", "action.notePh": "处理说明（可选）", "action.assignee": "指派给",
    "action.assigneePh": "保安姓名",
    "action.acknowledge": "确认", "action.assign": "指派", "action.resolve": "解决", "action.false_alarm": "误报",
    "action.accepted": "已提交：{action}，等待状态更新…", "action.applied": "状态已更新：{status}",
    "action.refused": "操作被拒绝：{msg}",
    "history.opened": "产生", "history.updated": "更新", "history.grouped": "重复合并",
    "history.acknowledged": "确认", "history.assigned": "指派", "history.resolved": "解决",
    "history.false_alarm": "误报", "history.escalated": "升级", "history.reminded": "提醒",
    "history.silenced": "静默", "history.unsilenced": "解除静默",
    "status.open": "未处理", "status.acknowledged": "已确认", "status.assigned": "已指派",
    "status.resolved": "已解决", "status.false_alarm": "误报",
    "severity.info": "提示", "severity.low": "低", "severity.medium": "中", "severity.high": "高",
    "severity.critical": "紧急",
    "silence.new": "新建静默", "silence.heading": "静默规则", "silence.minutes": "时长（分钟）",
    "silence.comment": "原因", "silence.create": "创建", "silence.matchers": "匹配", "silence.window": "时段",
    "silence.by": "创建人", "silence.state": "状态", "silence.delete": "删除", "silence.active": "生效中",
    "silence.pending": "未开始", "silence.expired": "已过期", "silence.deleted": "已删除",
    "silence.created": "已创建静默 {id}", "silence.removed": "已删除静默 {id}", "silence.none": "没有静默规则",
    "silence.needMatcher": "至少填写一个匹配条件", "silence.confirmDelete": "删除静默 {id}？",
    "devices.cameras": "摄像头", "devices.sensors": "传感器", "devices.id": "编号", "devices.state": "状态",
    "devices.lag": "延迟", "devices.lastFrame": "最后一帧", "devices.lastReading": "最后读数",
    "devices.values": "数值", "devices.battery": "电量", "devices.unavailable": "服务器暂不提供设备状态（{msg}）",
    "devices.none": "无",
    "device.online": "在线", "device.offline": "离线", "device.unknown": "未知",
    "time.never": "从未", "time.ago": "{s} 前", "time.sec": "{n} 秒", "time.min": "{n} 分", "time.hour": "{n} 小时",
    "error.network": "网络错误：{msg}", "error.forbidden": "权限不足：{msg}",
  },
  en: {
    "app.title": "Smart-community control room",
    "nav.board": "Alerts", "nav.silences": "Silences", "nav.devices": "Devices", "nav.logout": "Log out",
    "login.heading": "Log in", "login.token": "Access token", "login.submit": "Log in",
    "login.hint": "An admin creates tokens with sca users.",
    "login.invalid": "That token is not valid; try again.", "login.failed": "Cannot reach the server: {msg}",
    "login.expired": "Your session has expired; log in again.",
    "role.operator": "operator", "role.admin": "admin",
    "conn.live": "Live", "conn.connecting": "Connecting…", "conn.down": "Disconnected",
    "conn.banner": "Live connection lost; reconnecting in {s} s… (the board may be out of date)",
    "conn.restored": "Live connection restored",
    "sound.on": "Sound: on", "sound.off": "Sound: off",
    "filter.active": "Open only", "filter.allStatus": "All states", "filter.allSeverity": "All severities",
    "counts.total": "Open {n}", "board.empty": "No alerts right now",
    "field.type": "Type", "field.site": "Site", "field.location": "Location", "field.device": "Device",
    "field.started": "Started", "field.updated": "Updated", "field.ended": "Ended", "field.count": "Count",
    "field.assignee": "Assignee", "field.escalation": "Escalation", "field.silenced": "Silenced",
    "detail.close": "Close", "detail.evidence": "Evidence", "detail.noEvidence": "No evidence image",
    "detail.evidenceFailed": "Evidence failed to load", "detail.history": "History", "detail.details": "Details",
    "detail.facade": "Facade: {floors} floors × {columns} columns, thrown from floor {floor}, column {column}",
    "detail.trajectory": "Trajectory ({n} points)", "detail.zone": "Fire lane {zone}",
    "detail.broadcasts": "{n} broadcasts", "detail.escalatedYes": "Escalated, guard dispatched",
    "detail.readings": "Sensor readings", "detail.noReadings": "No readings for this alert",
    "detail.loading": "Loading…", "detail.silenceLike": "Silence similar",
    "action.note": "Note", "action.notePh": "What was done (optional)", "action.assignee": "Assign to",
    "action.assigneePh": "guard name",
    "action.acknowledge": "Acknowledge", "action.assign": "Assign", "action.resolve": "Resolve",
    "action.false_alarm": "False alarm",
    "action.accepted": "Sent: {action}; waiting for the new state…", "action.applied": "State updated: {status}",
    "action.refused": "Refused: {msg}",
    "history.opened": "opened", "history.updated": "updated", "history.grouped": "grouped repeat",
    "history.acknowledged": "acknowledged", "history.assigned": "assigned", "history.resolved": "resolved",
    "history.false_alarm": "false alarm", "history.escalated": "escalated", "history.reminded": "reminded",
    "history.silenced": "silenced", "history.unsilenced": "unsilenced",
    "status.open": "Open", "status.acknowledged": "Acknowledged", "status.assigned": "Assigned",
    "status.resolved": "Resolved", "status.false_alarm": "False alarm",
    "severity.info": "Info", "severity.low": "Low", "severity.medium": "Medium", "severity.high": "High",
    "severity.critical": "Critical",
    "silence.new": "New silence", "silence.heading": "Silences", "silence.minutes": "Duration (minutes)",
    "silence.comment": "Reason", "silence.create": "Create", "silence.matchers": "Matchers", "silence.window": "Window",
    "silence.by": "Created by", "silence.state": "State", "silence.delete": "Delete", "silence.active": "active",
    "silence.pending": "not started", "silence.expired": "expired", "silence.deleted": "deleted",
    "silence.created": "Silence {id} created", "silence.removed": "Silence {id} deleted", "silence.none": "No silences",
    "silence.needMatcher": "Fill in at least one matcher", "silence.confirmDelete": "Delete silence {id}?",
    "devices.cameras": "Cameras", "devices.sensors": "Sensors", "devices.id": "ID", "devices.state": "State",
    "devices.lag": "Lag", "devices.lastFrame": "Last frame", "devices.lastReading": "Last reading",
    "devices.values": "Values", "devices.battery": "Battery",
    "devices.unavailable": "The server does not report device health yet ({msg})", "devices.none": "none",
    "device.online": "online", "device.offline": "offline", "device.unknown": "unknown",
    "time.never": "never", "time.ago": "{s} ago", "time.sec": "{n} s", "time.min": "{n} min", "time.hour": "{n} h",
    "error.network": "Network error: {msg}", "error.forbidden": "Not allowed: {msg}",
  },
};

// Alert types: exact names first, then prefixes (heat_*, manhole_*).
const TYPES = {
  zh: {
    thrown_object: "高空抛物", fire_lane_occupied: "消防通道占用", smoke_alarm: "烟感报警", fire_confirmed: "火情确认",
    sensor_alarm: "传感器报警", water_leak: "漏水", device_offline: "设备离线", camera_offline: "摄像头离线",
    subscriber_unreachable: "推送失败", speaker_unreachable: "广播不可达", "heat_": "温感报警", "manhole_": "井盖异常",
    "gas_": "燃气报警",
  },
  en: {
    thrown_object: "Thrown object", fire_lane_occupied: "Fire lane occupied", smoke_alarm: "Smoke alarm",
    fire_confirmed: "Fire confirmed", sensor_alarm: "Sensor alarm", water_leak: "Water leak",
    device_offline: "Device offline", camera_offline: "Camera offline", subscriber_unreachable: "Webhook failing",
    speaker_unreachable: "Speaker unreachable", "heat_": "Heat alarm", "manhole_": "Manhole", "gas_": "Gas alarm",
  },
};

export const LANGS = ["zh", "en"];
let lang = LANGS.includes(localStorage.getItem("sca.lang")) ? localStorage.getItem("sca.lang") : "zh";

export function getLang() {
  return lang;
}

export function setLang(next) {
  lang = LANGS.includes(next) ? next : "zh";
  localStorage.setItem("sca.lang", lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

export function locale() {
  return lang === "zh" ? "zh-CN" : "en-GB";
}

export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** A readable name for an alert type, keeping the raw name for the unknown part (heat_high → 温感报警 (high)). */
export function typeLabel(type) {
  const names = TYPES[lang];
  if (names[type]) return names[type];
  const prefix = Object.keys(names).find((p) => p.endsWith("_") && type.startsWith(p));
  return prefix ? `${names[prefix]} (${type.slice(prefix.length)})` : type;
}

/** Fill every element marked with data-i18n (text), data-i18n-placeholder or data-i18n-title under root. */
export function applyI18n(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
  document.title = t("app.title");
}
