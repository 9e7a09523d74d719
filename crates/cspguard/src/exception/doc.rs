//! The request document as blocks, rendered to Markdown and to PDF (A4, the PDF base fonts, so nothing is embedded:
//! Helvetica-Bold for headings, Courier for the rest so tables line up).

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

pub enum Block {
    Heading(u8, String),
    Para(String),
    Bullets(Vec<String>),
    Table(Vec<String>, Vec<Vec<String>>),
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(blocks: &[Block]) -> String {
    let mut o = String::new();
    for b in blocks {
        match b {
            Block::Heading(level, t) => {
                o.push_str(&format!("{} {t}\n\n", "#".repeat(usize::from(*level))))
            }
            Block::Para(t) => o.push_str(&format!("{t}\n\n")),
            Block::Bullets(items) => {
                for i in items {
                    o.push_str(&format!("- {i}\n"));
                }
                o.push('\n');
            }
            Block::Table(head, rows) => {
                o.push_str(&format!(
                    "| {} |\n",
                    head.iter()
                        .map(|h| md_cell(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
                o.push_str(&format!("|{}\n", "---|".repeat(head.len())));
                for r in rows {
                    o.push_str(&format!(
                        "| {} |\n",
                        r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                    ));
                }
                o.push('\n');
            }
        }
    }
    o
}

/// Text in the PDF base fonts' WinAnsi encoding: Latin-1 as is, dashes and quotes to ASCII, anything else `?`.
fn winansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{2013}' | '\u{2014}' => b'-',
            '\u{2018}' | '\u{2019}' => b'\'',
            '\u{201c}' | '\u{201d}' => b'"',
            c if (c as u32) < 0x80 || (0xA0..=0xFF).contains(&(c as u32)) => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

fn wrap(s: &str, width: usize, indent: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let mut w = word.to_string();
        while w.chars().count() > width {
            let head: String = w.chars().take(width).collect();
            let rest: String = w.chars().skip(width).collect();
            if !line.is_empty() {
                out.push(std::mem::take(&mut line));
            }
            out.push(head);
            w = rest;
        }
        if !line.is_empty() && line.chars().count() + 1 + w.chars().count() > width {
            out.push(std::mem::take(&mut line));
            line.push_str(indent);
        }
        if !line.is_empty() && !line.ends_with(' ') {
            line.push(' ');
        }
        line.push_str(&w);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

const WIDTH: usize = 100;

/// (bold heading?, text) lines.
fn lines(blocks: &[Block]) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    for b in blocks {
        match b {
            Block::Heading(_, t) => {
                out.push((false, String::new()));
                out.push((true, t.clone()));
            }
            Block::Para(t) => {
                out.extend(wrap(t, WIDTH, "").into_iter().map(|l| (false, l)));
                out.push((false, String::new()));
            }
            Block::Bullets(items) => {
                for i in items {
                    for (n, l) in wrap(i, WIDTH - 2, "").into_iter().enumerate() {
                        out.push((false, format!("{}{l}", if n == 0 { "- " } else { "  " })));
                    }
                }
                out.push((false, String::new()));
            }
            Block::Table(head, rows) => {
                let cols = head.len();
                let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
                for r in rows {
                    for (i, c) in r.iter().enumerate().take(cols) {
                        w[i] = w[i].max(c.chars().count());
                    }
                }
                // The last column takes what is left and wraps.
                let fixed: usize = w[..cols.saturating_sub(1)].iter().map(|x| x + 2).sum();
                let last = WIDTH.saturating_sub(fixed).max(20);
                let row = |r: &[String]| -> Vec<String> {
                    let mut prefix = String::new();
                    for (i, c) in r.iter().enumerate().take(cols.saturating_sub(1)) {
                        prefix.push_str(&format!("{:<width$}  ", c, width = w[i]));
                    }
                    let tail = r.get(cols - 1).cloned().unwrap_or_default();
                    let wrapped = wrap(&tail, last, "");
                    let pad = " ".repeat(prefix.chars().count());
                    if wrapped.is_empty() {
                        return vec![prefix];
                    }
                    wrapped
                        .into_iter()
                        .enumerate()
                        .map(|(n, l)| format!("{}{l}", if n == 0 { &prefix } else { &pad }))
                        .collect()
                };
                out.extend(row(head).into_iter().map(|l| (false, l)));
                out.push((false, "-".repeat(WIDTH.min(fixed + last))));
                for r in rows {
                    out.extend(row(r).into_iter().map(|l| (false, l)));
                }
                out.push((false, String::new()));
            }
        }
    }
    out
}

/// A4 pages of the blocks.
pub fn pdf(title: &str, blocks: &[Block]) -> Vec<u8> {
    let (w, h, margin) = (595.0f32, 842.0f32, 40.0f32);
    let (size, leading) = (8.0f32, 10.5f32);
    let per_page = ((h - 2.0 * margin) / leading) as usize;
    let all = lines(blocks);
    let pages: Vec<&[(bool, String)]> = all.chunks(per_page.max(1)).collect();
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let body_font = Ref::new(3);
    let head_font = Ref::new(4);
    let info = Ref::new(5);
    let first_page = 10;
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(page_ids.len() as i32);
    pdf.document_info(info)
        .title(pdf_writer::TextStr(title))
        .producer(pdf_writer::TextStr("cspguard"));
    pdf.type1_font(body_font)
        .base_font(Name(b"Courier"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(head_font)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let total = pages.len();
    for (i, chunk) in pages.iter().enumerate() {
        let id = page_ids[i];
        let content_id = Ref::new(id.get() + 1);
        let mut page = pdf.page(id);
        page.media_box(Rect::new(0.0, 0.0, w, h));
        page.parent(tree);
        page.contents(content_id);
        let mut res = page.resources();
        res.fonts()
            .pair(Name(b"F1"), body_font)
            .pair(Name(b"F2"), head_font);
        res.finish();
        page.finish();
        let mut c = Content::new();
        let mut y = h - margin;
        for (bold, text) in chunk.iter() {
            y -= leading;
            if text.is_empty() {
                continue;
            }
            c.begin_text();
            if *bold {
                c.set_font(Name(b"F2"), 11.0);
            } else {
                c.set_font(Name(b"F1"), size);
            }
            c.next_line(margin, y);
            c.show(Str(&winansi(text)));
            c.end_text();
        }
        let footer = format!("{title} - page {} of {total}", i + 1);
        c.begin_text();
        c.set_font(Name(b"F1"), 7.0);
        c.next_line(margin, margin / 2.0);
        c.show(Str(&winansi(&footer)));
        c.end_text();
        pdf.stream(content_id, &c.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_renders_to_markdown_and_a_paginated_pdf() {
        let mut blocks = vec![
            Block::Heading(1, "Request — EX-1".into()),
            Block::Table(
                vec!["rule".into(), "reason".into()],
                vec![vec!["a|b".into(), "long ".repeat(60)]],
            ),
        ];
        for i in 0..200 {
            blocks.push(Block::Para(format!("paragraph {i}")));
        }
        let md = markdown(&blocks);
        assert!(md.starts_with("# Request — EX-1\n"));
        assert!(md.contains("| a\\|b |"));
        let p = pdf("EX-1", &blocks);
        assert!(p.starts_with(b"%PDF"));
        let text = String::from_utf8_lossy(&p);
        assert!(
            text.contains("page 1 of 6"),
            "200 paragraphs + table: 6 pages"
        );
        assert!(text.contains("Request - EX-1"));
    }

    #[test]
    fn long_words_and_lines_wrap() {
        assert_eq!(wrap("aaaa bbbb cc", 9, ""), vec!["aaaa bbbb", "cc"]);
        assert_eq!(wrap("abcdefghij", 4, ""), vec!["abcd", "efgh", "ij"]);
    }
}
