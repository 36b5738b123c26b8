// Sphinx search scorer for the handbook (html_search_scorer in _config.yml).
// Same weights as Sphinx's default Scorer, plus two rules, so that a reader who searches
// "KV cache" lands on the answer (question 8.2) first:
// - a question heading ("8.2 讲讲KV cache") that contains the query beats pages that merely
//   mention it (Sphinx gives heading hits only 15 * |query| / |heading| points);
// - hits on the API reference page rank below the chapters: the module
//   `interviewlib.transformer.kv_cache` would otherwise win on the object-name bonus. The API
//   page stays one click away from every answer's API links.
const QUESTION_HEADING = /(^|> )\d{1,2}\.\d{1,2} /;  // section hits are titled "Page > 8.2 ..."
var Scorer = {
  score: (result) => {
    const [docname, title, anchor, descr, score, filename] = result;
    if (docname.startsWith("appendix/api")) return score - 40;
    return QUESTION_HEADING.test(title || "") ? score + 30 : score;
  },
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
