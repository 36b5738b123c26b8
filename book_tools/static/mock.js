/* 模拟面试 (appendix/mock.html): draw a question, answer aloud against a clock, reveal the
 * quick answer and the follow-ups, grade yourself; SM-2 decides when the card comes back.
 *
 * The card index is the JSON in #mock-data and each card's body is a <template> on the same
 * page; both are generated at build time by book_tools/pages.py from the same extraction as
 * the cheat sheet and the flashcards. Progress lives in localStorage under a versioned key.
 * Everything here runs offline; nothing is fetched.
 */
(function () {
  "use strict";

  var KEY = "interview-handbook:mock:v1";
  var BACKUP_KEY = "interview-handbook:mock:unreadable";
  var VERSION = 1;
  var FORMAT = "interview-handbook-mock";
  var MINUTE = 60 * 1000;
  var DAY = 24 * 60 * MINUTE;
  var DRILL_MS = MINUTE; // a card graded below "good" comes back this soon, in the same session
  var MASTERED_DAYS = 21; // an interval this long counts as mastered (Anki calls it "mature")
  var EF_START = 2.5;
  var EF_MIN = 1.3;
  // The four buttons and the SM-2 response quality q (0-5) each one stands for.
  var GRADES = [
    { key: "1", name: "again", label: "忘了", q: 1 },
    { key: "2", name: "hard", label: "困难", q: 3 },
    { key: "3", name: "good", label: "良好", q: 4 },
    { key: "4", name: "easy", label: "轻松", q: 5 },
  ];

  // ---- SM-2 (Wozniak 1990), pure functions -------------------------------------------------

  function newCard() {
    return { n: 0, ef: EF_START, interval: 0, due: 0, drill: null, reviews: 0, lapses: 0, last: 0 };
  }

  /** The card after a response of quality q at time now (ms). Does not modify `card`. */
  function review(card, q, now) {
    if (!(Number.isInteger(q) && q >= 0 && q <= 5)) throw new RangeError("q must be an integer 0-5, got " + q);
    var c = Object.assign(newCard(), card);
    c.reviews += 1;
    c.last = now;
    if (c.drill !== null) {
      // A same-day repeat of a card that scored below 4: SM-2 repeats it until it scores
      // at least 4, and these drills do not change the long-term schedule.
      c.drill = q >= 4 ? null : now + DRILL_MS;
      return c;
    }
    if (q < 3) {
      // forgotten: start the repetitions again, keep the E-Factor
      c.n = 0;
      c.interval = 1;
      c.lapses += 1;
    } else {
      c.n += 1;
      c.interval = c.n === 1 ? 1 : c.n === 2 ? 6 : Math.ceil(c.interval * c.ef);
      c.ef = Math.max(EF_MIN, c.ef + 0.1 - (5 - q) * (0.08 + (5 - q) * 0.02));
    }
    c.due = now + c.interval * DAY;
    c.drill = q < 4 ? now + DRILL_MS : null;
    return c;
  }

  /** When the card wants to be asked next (ms). */
  function nextTime(c) {
    return c.drill !== null ? c.drill : c.due;
  }

  function isDue(c, now) {
    return nextTime(c) <= now;
  }

  function isMastered(c) {
    return c.drill === null && c.interval >= MASTERED_DAYS;
  }

  /**
   * The id of the next card among `ids` (already filtered), or null when nothing is due:
   * drills that are due first, then due reviews (earliest first), then a new card (random).
   */
  function pick(ids, cards, now, random) {
    var drills = [], reviews = [], fresh = [];
    ids.forEach(function (id) {
      var c = cards[id];
      if (!c) fresh.push(id);
      else if (c.drill !== null && c.drill <= now) drills.push(id);
      else if (c.drill === null && c.due <= now) reviews.push(id);
    });
    var byTime = function (a, b) { return nextTime(cards[a]) - nextTime(cards[b]); };
    if (drills.length) return drills.sort(byTime)[0];
    if (reviews.length) return reviews.sort(byTime)[0];
    if (fresh.length) return fresh[Math.floor((random || Math.random)() * fresh.length)];
    return null;
  }

  // ---- state: load, validate, save -----------------------------------------------------------

  function isNum(x) {
    return typeof x === "number" && isFinite(x);
  }

  function validCard(c) {
    return !!c && typeof c === "object" && !Array.isArray(c) &&
      Number.isInteger(c.n) && c.n >= 0 && isNum(c.ef) && c.ef >= EF_MIN && c.ef <= 10 &&
      isNum(c.interval) && c.interval >= 0 && isNum(c.due) && (c.drill === null || isNum(c.drill)) &&
      Number.isInteger(c.reviews) && c.reviews >= 0 && Number.isInteger(c.lapses) && c.lapses >= 0 &&
      isNum(c.last);
  }

  function defaultSettings(data) {
    return { chapters: data.chapters.map(function (c) { return c.number; }), difficulties: [1, 2, 3], seconds: 60 };
  }

  /** Settings with anything unusable replaced by its default. */
  function cleanSettings(s, data) {
    var d = defaultSettings(data);
    if (!s || typeof s !== "object") return d;
    var known = d.chapters;
    var chapters = Array.isArray(s.chapters) ? s.chapters.filter(function (n) { return known.indexOf(n) >= 0; }) : d.chapters;
    var diffs = Array.isArray(s.difficulties) ? s.difficulties.filter(function (n) { return [1, 2, 3].indexOf(n) >= 0; }) : d.difficulties;
    var seconds = Number.isInteger(s.seconds) && s.seconds >= 10 && s.seconds <= 600 ? s.seconds : d.seconds;
    return { chapters: chapters, difficulties: diffs, seconds: seconds };
  }

  /** {state, problem}: problem is null, or a sentence saying why the stored value was not used. */
  function parseState(raw, data) {
    var empty = { version: VERSION, cards: {}, settings: defaultSettings(data) };
    if (raw === null || raw === undefined) return { state: empty, problem: null };
    var obj;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      return { state: empty, problem: "保存的进度不是有效的 JSON（" + e.message + "）" };
    }
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) return { state: empty, problem: "保存的进度格式不对" };
    if (obj.version !== VERSION) {
      return { state: empty, problem: "保存的进度来自另一个版本（version " + JSON.stringify(obj.version) + "，本页需要 " + VERSION + "）" };
    }
    if (!obj.cards || typeof obj.cards !== "object" || Array.isArray(obj.cards)) return { state: empty, problem: "保存的进度缺少卡片记录" };
    var bad = Object.keys(obj.cards).filter(function (id) { return !validCard(obj.cards[id]); });
    if (bad.length) return { state: empty, problem: "保存的进度里有 " + bad.length + " 条损坏的卡片记录（例如 " + bad[0] + "）" };
    return { state: { version: VERSION, cards: obj.cards, settings: cleanSettings(obj.settings, data) }, problem: null };
  }

  function storage() {
    try {
      var s = window.localStorage;
      s.getItem(KEY);
      return s;
    } catch (e) {
      return null; // storage disabled: the page still works, progress lasts until it is closed
    }
  }

  // ---- the page --------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "hidden") e.hidden = !!attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }

  function stars(d) {
    return "★★★".slice(0, d) + "☆☆☆".slice(0, 3 - d);
  }

  function when(ms, now) {
    var dt = ms - now;
    if (dt <= 0) return "现在";
    if (dt < 90 * MINUTE) return Math.ceil(dt / MINUTE) + " 分钟后";
    if (dt < 36 * 60 * MINUTE) return Math.round(dt / (60 * MINUTE)) + " 小时后";
    return Math.round(dt / DAY) + " 天后";
  }

  function App(root, data) {
    this.root = root;
    this.data = data;
    this.byId = {};
    var self = this;
    data.cards.forEach(function (c) { self.byId[c.id] = c; });
    this.store = storage();
    this.current = null; // {id, revealed, graded, shown}
    this.timer = null;
    this.build();
    this.load();
    this.render();
  }

  App.prototype.message = function (text, kind) {
    this.msg.textContent = text;
    this.msg.className = "mock-message" + (kind ? " mock-message-" + kind : "");
    this.msg.hidden = !text;
  };

  App.prototype.load = function () {
    var raw = null;
    if (this.store) raw = this.store.getItem(KEY);
    var parsed = parseState(raw, this.data);
    this.state = parsed.state;
    if (parsed.problem) {
      try {
        this.store.setItem(BACKUP_KEY, raw);
      } catch (e) { /* nothing more we can do */ }
      this.message(parsed.problem + "，已重置为空白进度。原来的内容备份在 localStorage 的 “" + BACKUP_KEY + "” 里。", "warn");
      this.save();
    } else if (!this.store) {
      this.message("这个浏览器禁用了本地存储：进度只保留到关闭本页为止（可以先导出）。", "warn");
    }
  };

  App.prototype.save = function () {
    if (!this.store) return;
    try {
      this.store.setItem(KEY, JSON.stringify(this.state));
    } catch (e) {
      this.message("进度没能保存（" + e.message + "）：请导出备份。", "warn");
    }
  };

  App.prototype.build = function () {
    var self = this;
    this.root.textContent = "";
    this.msg = el("div", { class: "mock-message", role: "status", hidden: true });

    // filters and settings
    this.chapterBoxes = el("div", { class: "mock-options" });
    this.data.chapters.forEach(function (ch) {
      var box = el("input", { type: "checkbox", value: String(ch.number), "data-chapter": String(ch.number) });
      box.addEventListener("change", function () { self.readFilters(); });
      self.chapterBoxes.appendChild(el("label", { class: "mock-option" }, [box, el("span", { text: "第" + ch.number + "章 " + ch.title })]));
    });
    this.diffBoxes = el("div", { class: "mock-options" });
    [1, 2, 3].forEach(function (d) {
      var box = el("input", { type: "checkbox", value: String(d), "data-difficulty": String(d) });
      box.addEventListener("change", function () { self.readFilters(); });
      self.diffBoxes.appendChild(el("label", { class: "mock-option" }, [box, el("span", { text: stars(d) })]));
    });
    this.seconds = el("input", { type: "number", min: "10", max: "600", step: "10", id: "mock-seconds", inputmode: "numeric" });
    this.seconds.addEventListener("change", function () { self.readFilters(); });
    var allBtn = el("button", { type: "button", class: "mock-small", text: "全选" });
    allBtn.addEventListener("click", function () { self.setAllChapters(true); });
    var noneBtn = el("button", { type: "button", class: "mock-small", text: "全不选" });
    noneBtn.addEventListener("click", function () { self.setAllChapters(false); });
    var settings = el("details", { class: "mock-settings", open: "" }, [
      el("summary", { text: "筛选与设置" }),
      el("fieldset", {}, [el("legend", { text: "章节" }), this.chapterBoxes, el("div", { class: "mock-row" }, [allBtn, noneBtn])]),
      el("fieldset", {}, [el("legend", { text: "难度" }), this.diffBoxes]),
      el("label", { class: "mock-seconds", for: "mock-seconds" }, [el("span", { text: "首答限时（秒）" }), this.seconds]),
    ]);

    // the card
    this.status = el("p", { class: "mock-status", "aria-live": "polite" });
    this.drawBtn = el("button", { type: "button", class: "mock-primary", id: "mock-draw", text: "抽一道题（空格）" });
    this.drawBtn.addEventListener("click", function () { self.draw(false); });
    this.aheadBtn = el("button", { type: "button", id: "mock-ahead", text: "提前复习最早到期的一道", hidden: true });
    this.aheadBtn.addEventListener("click", function () { self.draw(true); });
    this.meta = el("p", { class: "mock-meta" });
    this.question = el("p", { class: "mock-question" });
    this.english = el("p", { class: "mock-english" });
    this.clock = el("div", { class: "mock-timer", role: "timer", "aria-live": "off" });
    this.revealBtn = el("button", { type: "button", class: "mock-primary", id: "mock-reveal", text: "揭晓答案（空格）" });
    this.revealBtn.addEventListener("click", function () { self.reveal(); });
    this.answer = el("div", { class: "mock-answer", hidden: true });
    this.followBtn = el("button", { type: "button", id: "mock-next-followup", hidden: true });
    this.followBtn.addEventListener("click", function () { self.nextFollowup(); });
    this.grades = el("div", { class: "mock-grades", role: "group", "aria-label": "自评", hidden: true });
    GRADES.forEach(function (g) {
      var b = el("button", { type: "button", class: "mock-grade mock-grade-" + g.name, "data-grade": g.name },
        [el("kbd", { text: g.key }), el("span", { text: " " + g.label })]);
      b.addEventListener("click", function () { self.grade(g); });
      self.grades.appendChild(b);
    });
    this.card = el("div", { class: "mock-card-view", hidden: true }, [
      this.meta, this.question, this.english, this.clock, this.revealBtn, this.answer, this.followBtn, this.grades,
    ]);
    var stage = el("div", { class: "mock-stage" }, [this.status, el("div", { class: "mock-row" }, [this.drawBtn, this.aheadBtn]), this.card]);

    // progress, export/import, reset
    this.table = el("table", { class: "mock-progress" });
    this.exportBtn = el("button", { type: "button", id: "mock-export", text: "导出进度（JSON）" });
    this.exportBtn.addEventListener("click", function () { self.exportState(); });
    this.importInput = el("input", { type: "file", accept: "application/json,.json", id: "mock-import", class: "mock-file" });
    this.importInput.addEventListener("change", function () { self.importState(self.importInput.files[0]); });
    var importLabel = el("label", { for: "mock-import", class: "mock-button-like", text: "导入进度…" });
    this.resetBtn = el("button", { type: "button", id: "mock-reset", text: "重置进度" });
    this.resetBtn.addEventListener("click", function () { self.askReset(); });
    this.confirmBtn = el("button", { type: "button", id: "mock-reset-confirm", class: "mock-danger", text: "确定清空全部进度", hidden: true });
    this.confirmBtn.addEventListener("click", function () { self.reset(); });
    var progress = el("div", { class: "mock-progress-box" }, [
      el("p", { class: "mock-heading", text: "各章进度" }),
      el("div", { class: "mock-table-scroll" }, [this.table]),
      el("div", { class: "mock-row" }, [this.exportBtn, this.importInput, importLabel, this.resetBtn, this.confirmBtn]),
    ]);

    [this.msg, settings, stage, progress].forEach(function (n) { self.root.appendChild(n); });
    document.addEventListener("keydown", function (e) { self.onKey(e); });
  };

  App.prototype.setAllChapters = function (on) {
    [].forEach.call(this.chapterBoxes.querySelectorAll("input"), function (b) { b.checked = on; });
    this.readFilters();
  };

  App.prototype.readFilters = function () {
    var pickNums = function (box) {
      return [].filter.call(box.querySelectorAll("input"), function (b) { return b.checked; }).map(function (b) { return Number(b.value); });
    };
    var secs = parseInt(this.seconds.value, 10);
    this.state.settings = cleanSettings({
      chapters: pickNums(this.chapterBoxes),
      difficulties: pickNums(this.diffBoxes),
      seconds: isFinite(secs) ? Math.min(600, Math.max(10, secs)) : 60,
    }, this.data);
    this.save();
    this.render();
  };

  App.prototype.pool = function () {
    var s = this.state.settings;
    return this.data.cards.filter(function (c) {
      return s.chapters.indexOf(c.chapter) >= 0 && s.difficulties.indexOf(c.difficulty) >= 0;
    }).map(function (c) { return c.id; });
  };

  App.prototype.render = function () {
    var s = this.state.settings, cards = this.state.cards, now = Date.now(), self = this;
    [].forEach.call(this.chapterBoxes.querySelectorAll("input"), function (b) { b.checked = s.chapters.indexOf(Number(b.value)) >= 0; });
    [].forEach.call(this.diffBoxes.querySelectorAll("input"), function (b) { b.checked = s.difficulties.indexOf(Number(b.value)) >= 0; });
    if (document.activeElement !== this.seconds) this.seconds.value = String(s.seconds);

    var pool = this.pool();
    var due = pool.filter(function (id) { return cards[id] && isDue(cards[id], now); }).length;
    var fresh = pool.filter(function (id) { return !cards[id]; }).length;
    this.status.textContent = "当前筛选：" + pool.length + " 道题 · 到期 " + due + " · 新题 " + fresh;
    if (!pool.length) this.status.textContent = "当前筛选下没有题目：请至少勾选一个章节和一个难度。";

    // progress table
    this.table.textContent = "";
    var head = el("tr", {}, ["章节", "题数", "做过", "到期", "已掌握"].map(function (t) { return el("th", { text: t, scope: "col" }); }));
    this.table.appendChild(el("thead", {}, [head]));
    var body = el("tbody");
    var total = { n: 0, seen: 0, due: 0, mastered: 0 };
    this.data.chapters.forEach(function (ch) {
      var ids = self.data.cards.filter(function (c) { return c.chapter === ch.number; }).map(function (c) { return c.id; });
      var seen = ids.filter(function (id) { return cards[id]; });
      var row = {
        n: ids.length,
        seen: seen.length,
        due: seen.filter(function (id) { return isDue(cards[id], now); }).length,
        mastered: seen.filter(function (id) { return isMastered(cards[id]); }).length,
      };
      Object.keys(total).forEach(function (k) { total[k] += row[k]; });
      body.appendChild(el("tr", { "data-chapter": String(ch.number) }, [
        el("th", { scope: "row", text: ch.number + " " + ch.title }),
        el("td", { text: String(row.n), "data-col": "total" }),
        el("td", { text: String(row.seen), "data-col": "seen" }),
        el("td", { text: String(row.due), "data-col": "due" }),
        el("td", { text: String(row.mastered), "data-col": "mastered" }),
      ]));
    });
    body.appendChild(el("tr", { "data-chapter": "all", class: "mock-total" }, [
      el("th", { scope: "row", text: "合计" }),
      el("td", { text: String(total.n), "data-col": "total" }),
      el("td", { text: String(total.seen), "data-col": "seen" }),
      el("td", { text: String(total.due), "data-col": "due" }),
      el("td", { text: String(total.mastered), "data-col": "mastered" }),
    ]));
    this.table.appendChild(body);
  };

  App.prototype.draw = function (ahead) {
    var pool = this.pool(), cards = this.state.cards, now = Date.now();
    var id = pick(pool, cards, now);
    if (id === null && ahead && pool.length) {
      id = pool.slice().sort(function (a, b) { return nextTime(cards[a]) - nextTime(cards[b]); })[0];
    }
    this.aheadBtn.hidden = true;
    if (id === null) {
      this.stopTimer();
      this.card.hidden = true;
      this.current = null;
      if (!pool.length) {
        this.message("当前筛选下没有题目：请至少勾选一个章节和一个难度。", "warn");
      } else {
        var next = Math.min.apply(null, pool.map(function (i) { return nextTime(cards[i]); }));
        this.message("当前筛选下的题都做过了，下一道在 " + when(next, now) + "到期。可以提前复习，或者换几个章节。", "info");
        this.aheadBtn.hidden = false;
      }
      return;
    }
    this.message("");
    this.show(id);
  };

  App.prototype.show = function (id) {
    var c = this.byId[id], ch = this.data.chapters.filter(function (x) { return x.number === c.chapter; })[0];
    var state = this.state.cards[id];
    this.current = { id: id, revealed: false, graded: false, shown: 0, followups: [] };
    this.card.hidden = false;
    this.card.setAttribute("data-card", id);
    var seen = state ? "第 " + (state.reviews + 1) + " 次" : "新题";
    this.meta.textContent = "第" + c.chapter + "章 " + ch.title + " · " + c.number + " · " + stars(c.difficulty) + " · " + seen;
    this.question.textContent = c.zh;
    this.english.textContent = c.en;
    this.answer.textContent = "";
    this.answer.hidden = true;
    this.grades.hidden = true;
    this.followBtn.hidden = true;
    this.revealBtn.hidden = false;
    this.startTimer(this.state.settings.seconds);
    this.revealBtn.focus({ preventScroll: true });
    this.card.scrollIntoView({ block: "nearest" });
  };

  App.prototype.startTimer = function (seconds) {
    var self = this, end = Date.now() + seconds * 1000;
    this.stopTimer();
    this.started = Date.now();
    this.limit = seconds;
    var tick = function () {
      var left = Math.ceil((end - Date.now()) / 1000);
      if (left > 0) {
        self.clock.textContent = "剩余 " + left + " 秒";
        self.clock.className = "mock-timer" + (left <= 10 ? " mock-timer-low" : "");
      } else {
        self.clock.textContent = "时间到：揭晓答案对照一下";
        self.clock.className = "mock-timer mock-timer-up";
        self.stopTimer();
      }
    };
    tick();
    this.timer = window.setInterval(tick, 250);
  };

  App.prototype.stopTimer = function () {
    if (this.timer !== null) window.clearInterval(this.timer);
    this.timer = null;
  };

  App.prototype.reveal = function () {
    var cur = this.current;
    if (!cur || cur.revealed) return;
    cur.revealed = true;
    this.stopTimer();
    var used = Math.round((Date.now() - this.started) / 1000);
    this.clock.textContent = "用时 " + used + " 秒（限时 " + this.limit + " 秒）";
    this.clock.className = "mock-timer" + (used > this.limit ? " mock-timer-up" : "");
    var tpl = document.getElementById("mock-card-" + cur.id);
    if (tpl && tpl.content) this.answer.appendChild(tpl.content.cloneNode(true));
    else this.answer.appendChild(el("p", { text: "找不到这道题的答案模板（页面生成有误）。" }));
    cur.followups = [].slice.call(this.answer.querySelectorAll(".mock-followup"));
    cur.followups.forEach(function (f) { f.hidden = true; });
    this.answer.hidden = false;
    this.revealBtn.hidden = true;
    this.grades.hidden = false;
    this.updateFollowBtn();
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise && mj.typesetPromise) {
      var node = this.answer;
      mj.startup.promise.then(function () { return mj.typesetPromise([node]); }).catch(function (e) {
        console.warn("MathJax could not typeset the card:", e);
      });
    }
  };

  App.prototype.updateFollowBtn = function () {
    var cur = this.current, n = cur.followups.length;
    this.followBtn.hidden = cur.shown >= n;
    this.followBtn.textContent = "下一个追问（F）· " + (cur.shown + 1) + "/" + n;
  };

  App.prototype.nextFollowup = function () {
    var cur = this.current;
    if (!cur || !cur.revealed || cur.shown >= cur.followups.length) return;
    var f = cur.followups[cur.shown];
    f.hidden = false;
    cur.shown += 1;
    this.updateFollowBtn();
    f.scrollIntoView({ block: "nearest" });
  };

  App.prototype.grade = function (g) {
    var cur = this.current;
    if (!cur || !cur.revealed || cur.graded) return;
    cur.graded = true;
    var now = Date.now();
    var next = review(this.state.cards[cur.id] || newCard(), g.q, now);
    this.state.cards[cur.id] = next;
    this.save();
    this.render();
    this.draw(false);
    if (this.current === null || this.current.id !== cur.id) {
      var c = this.byId[cur.id];
      var hint = "已记录 " + c.number + "「" + g.label + "」：" + when(nextTime(next), now) + "再问。";
      if (this.msg.hidden) this.message(hint, "info");
    }
  };

  App.prototype.onKey = function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target, tag = t && t.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (t && t.isContentEditable)) return;
    var cur = this.current;
    if (e.key === " " || e.code === "Space") {
      e.preventDefault(); // the key acts on the card, not on a focused button or the scroll position
      if (cur && !cur.revealed) this.reveal();
      else if (!cur || cur.graded) this.draw(false);
      return; // a revealed card waits for its grade
    }
    if (e.key === "f" || e.key === "F") {
      this.nextFollowup();
      return;
    }
    for (var i = 0; i < GRADES.length; i++) {
      if (e.key === GRADES[i].key && cur && cur.revealed && !cur.graded) {
        e.preventDefault();
        this.grade(GRADES[i]);
        return;
      }
    }
  };

  App.prototype.exportState = function () {
    var payload = { format: FORMAT, version: VERSION, exported: new Date().toISOString(), cards: this.state.cards, settings: this.state.settings };
    var blob = new Blob([JSON.stringify(payload, null, 1)], { type: "application/json" });
    var url = URL.createObjectURL(blob);
    var a = el("a", { href: url, download: "mock-interview-progress-" + new Date().toISOString().slice(0, 10) + ".json" });
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    this.message("已导出 " + Object.keys(this.state.cards).length + " 张卡片的进度。", "info");
  };

  App.prototype.importState = function (file) {
    var self = this;
    if (!file) return;
    var reader = new FileReader();
    reader.onload = function () {
      var obj = null;
      try {
        obj = JSON.parse(String(reader.result));
      } catch (e) {
        obj = null;
      }
      self.importInput.value = "";
      if (!obj || obj.format !== FORMAT) {
        self.message("导入失败：" + file.name + " 不是本页导出的进度文件（没有 format: \"" + FORMAT + "\"）。现有进度没有改动。", "warn");
        return;
      }
      var parsed = parseState(JSON.stringify({ version: obj.version, cards: obj.cards, settings: obj.settings }), self.data);
      if (parsed.problem) {
        self.message("导入失败：" + parsed.problem + "。现有进度没有改动。", "warn");
        return;
      }
      var unknown = Object.keys(parsed.state.cards).filter(function (id) { return !self.byId[id]; }).length;
      self.state = parsed.state;
      self.save();
      self.current = null;
      self.card.hidden = true;
      self.stopTimer();
      self.render();
      self.message("已导入 " + Object.keys(parsed.state.cards).length + " 张卡片的进度" +
        (unknown ? "（其中 " + unknown + " 张不在这一版书里，保留但不显示）" : "") + "。", "info");
    };
    reader.onerror = function () { self.message("导入失败：读不了这个文件。", "warn"); };
    reader.readAsText(file);
  };

  App.prototype.askReset = function () {
    var self = this;
    this.confirmBtn.hidden = false;
    window.setTimeout(function () { self.confirmBtn.hidden = true; }, 8000);
  };

  App.prototype.reset = function () {
    this.state = { version: VERSION, cards: {}, settings: this.state.settings };
    this.save();
    this.confirmBtn.hidden = true;
    this.current = null;
    this.card.hidden = true;
    this.stopTimer();
    this.render();
    this.message("进度已清空（筛选设置保留）。", "info");
  };

  // Exposed for the browser tests, which check the schedule against the published algorithm.
  window.HandbookMock = {
    KEY: KEY, BACKUP_KEY: BACKUP_KEY, VERSION: VERSION, DRILL_MS: DRILL_MS, DAY: DAY,
    newCard: newCard, review: review, pick: pick, parseState: parseState, isDue: isDue, isMastered: isMastered,
  };

  function start() {
    var root = document.getElementById("mock-app");
    var dataEl = document.getElementById("mock-data");
    if (!root || !dataEl) return;
    var data;
    try {
      data = JSON.parse(dataEl.textContent);
    } catch (e) {
      root.textContent = "题目数据损坏，无法开始模拟面试：" + e.message;
      return;
    }
    window.HandbookMock.app = new App(root, data);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
