//! A local model's tokenizer for text-only imports (`import --tokenizer`):
//! branch points and token counts then count the model's real tokens.

use super::model::LoadedModel;
use crate::run::import::Tokenizer;

impl Tokenizer for LoadedModel {
    fn tokenize(&self, text: &str) -> Result<Vec<(i32, Vec<u8>)>, String> {
        // No BOS and no special-token parsing: the text is generated text.
        Ok(self
            .model
            .vocab()
            .tokenize(text.as_bytes(), false, false)
            .into_iter()
            .map(|t| {
                let bytes = self
                    .piece_bytes
                    .get(t.0 as usize)
                    .cloned()
                    .unwrap_or_default();
                (t.0, bytes)
            })
            .collect())
    }

    fn n_vocab(&self) -> u32 {
        self.info.n_vocab
    }

    fn file_name(&self) -> String {
        self.info.file.clone()
    }
}
