import pytest

from rag.settings import SettingsError, load_settings


def test_defaults_file_env_and_overrides_in_order(tmp_path):
    (tmp_path / "settings.toml").write_text(
        'index = "tu-file"\nchunk_tokens = 200\n', encoding="utf-8"
    )
    s = load_settings(tmp_path, env={})
    assert (s.index, s.chunk_tokens, s.embedding_model) == ("tu-file", 200, "e5-small")
    s = load_settings(tmp_path, env={"HOIDAP_INDEX": "tu-env", "HOIDAP_CHUNK_TOKENS": "120"})
    assert (s.index, s.chunk_tokens) == ("tu-env", 120)
    s = load_settings(tmp_path, env={"HOIDAP_INDEX": "tu-env"}, index="tu-cli", chunk_tokens=None)
    assert (s.index, s.chunk_tokens) == ("tu-cli", 200)


def test_home_from_env(tmp_path):
    assert load_settings(env={"HOIDAP_HOME": str(tmp_path)}).home == tmp_path.resolve()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("nonsense = 1\n", "unknown setting"),
        ("chunk_tokens = 'many'\n", "chunk_tokens"),
        ("index = '../escape'\n", "index name"),
        ("chunk_overlap = 500\n", "chunk_overlap"),
        ("chroma_url = 'ftp://x'\n", "chroma_url"),
        ("index = [\n", "settings.toml"),
    ],
)
def test_bad_settings_say_what_is_wrong(tmp_path, content, message):
    (tmp_path / "settings.toml").write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError, match=message):
        load_settings(tmp_path, env={})


def test_ollama_gets_its_native_url_unless_one_is_given(tmp_path):
    s = load_settings(tmp_path, env={"HOIDAP_ANSWERER": "ollama", "HOIDAP_LLM_MODEL": "qwen3"})
    assert s.llm_base_url == "http://127.0.0.1:11434"
    s = load_settings(tmp_path, env={}, answerer="openai", llm_model="m")
    assert s.llm_base_url == "http://127.0.0.1:8080/v1"
    s = load_settings(
        tmp_path, env={}, answerer="ollama", llm_model="m", llm_base_url="http://gpu:11434"
    )
    assert s.llm_base_url == "http://gpu:11434"
